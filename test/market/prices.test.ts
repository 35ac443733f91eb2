import { describe, it, expect, afterEach } from 'vitest'
import { world, user, addPm, type World } from './helpers.ts'

describe('price daemon', () => {
  let w: World
  afterEach(async () => {
    await w.close()
  })
  it('averages the asks of machines that could host each configuration, and keeps the stale price when none can', async () => {
    w = await world()
    const prov = await user(w.market, 'prov', 'provider')
    await addPm(w.market, prov, { info: { memory: 200 }, sheet: { storagePrice: 1000 } }) // hosts small only
    const b = await addPm(w.market, prov, { sheet: { storagePrice: 3000 } })
    await w.market.pricePass()
    const small = w.market.db.get('config', 'small')!
    const large = w.market.db.get('config', 'large')!
    expect(small.askedStoragePrice).toBe((3 * 1000 + 3 * 3000) / 2) // 2100 MB = 3 chunks
    expect(large.askedStoragePrice).toBe(4 * 3000)
    expect(small.askedRunningPrice).toBe(2 * 3600)
    expect(small.pricedAt).toBe(w.clock.t)
    await w.market.pmDelete(prov, b.id)
    w.clock.t += 60_000
    const r = await w.market.pricePass()
    expect(r.stale).toBeGreaterThan(0)
    expect(w.market.db.get('config', 'large')).toEqual(large) // stale, unchanged
    expect(w.market.db.get('config', 'small')!.askedStoragePrice).toBe(3000)
  })
})
