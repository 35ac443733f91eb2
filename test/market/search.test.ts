import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { world, user, addPm, codeOf, type World } from './helpers.ts'
import type { Identity } from '../../src/market/types.ts'

describe('search', () => {
  let w: World, prov: Identity, buyer: Identity
  beforeEach(async () => {
    w = await world()
    prov = await user(w.market, 'prov', 'provider')
    buyer = await user(w.market, 'buyer', 'buyer')
    await w.market.credit('buyer', 10_000_000)
  })
  afterEach(async () => {
    await w.close()
  })

  it('lists machines with room, online and not draining, with exact prices and bids', async () => {
    const cheapStore = await addPm(w.market, prov, { sheet: { storagePrice: 100, speedPrice: 50 } })
    const cheapRun = await addPm(w.market, prov, { sheet: { storagePrice: 5000, speedPrice: 0, memoryPrice: 0 } })
    const tiny = await addPm(w.market, prov, { info: { memory: 64 } })
    const off = await addPm(w.market, prov)
    w.gateway.offline.add(off.nodeKey)
    const vm = await w.market.register(buyer, { config: 'small', bidStorage: 1000 })
    const offers = w.market.search(buyer, { vmId: vm.id, sort: 'storage' })
    expect(offers.map((o) => o.pmId)).toEqual([cheapStore.id, cheapRun.id])
    expect(offers.map((o) => o.pmId)).not.toContain(tiny.id)
    expect(offers[0]).toMatchObject({
      storagePrice: 300,
      storagePeriod: 86_400,
      runningPrice: (50 + 1) * 3600,
      storagePerDay: 300,
      runningPerHour: 51 * 3600,
      withinBids: true,
    })
    expect(offers[1].withinBids).toBe(false)
    expect(w.market.search(buyer, { vmId: vm.id, sort: 'running' })[0].pmId).toBe(cheapRun.id)
    expect(w.market.search(buyer, { config: 'small', sort: 'total' })).toHaveLength(2)
    // Room shrinks as machines are stored.
    const big = await w.market.register(buyer, { memory: 2000, hd: 2100, speed: 100 })
    await w.market.store(buyer, big.id, cheapStore.id)
    expect(w.market.search(buyer, { vmId: vm.id }).map((o) => o.pmId)).toEqual([cheapRun.id])
  })

  it('is for buyers, on their own registered machines, or stored ones looking for a migration destination', async () => {
    const pm = await addPm(w.market, prov)
    expect(await codeOf(() => w.market.search(prov, { config: 'small' }))).toBe('MARKET_FORBIDDEN')
    expect(await codeOf(() => w.market.search(buyer, {}))).toBe('MARKET_BAD_INPUT')
    const vm = await w.market.register(buyer, { config: 'small' })
    await w.market.store(buyer, vm.id, pm.id)
    const other = await addPm(w.market, prov)
    // stored: where it could migrate to, never where it already is
    expect(w.market.search(buyer, { vmId: vm.id }).map((o) => o.pmId)).toEqual([other.id])
    await w.market.start(buyer, vm.id)
    expect(await codeOf(() => w.market.search(buyer, { vmId: vm.id }))).toBe('MARKET_ACTION_NOT_ALLOWED')
  })
})
