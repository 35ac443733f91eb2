import { describe, it, expect, afterEach } from 'vitest'
import { world, user, addPm, type World } from './helpers.ts'
import { visibleTo } from '../../src/market/feed.ts'

describe('change feed visibility', () => {
  let w: World
  afterEach(async () => {
    await w.close()
  })
  it('sends public tables to all, own rows to their users, a provider the machines on its PMs, secrets to nobody', async () => {
    w = await world()
    const seen: any[] = []
    w.market.on('change', (c) => seen.push(c))
    const prov = await user(w.market, 'prov', 'provider')
    const buyer = await user(w.market, 'buyer', 'buyer')
    const eve = await user(w.market, 'eve', 'buyer')
    const pm = await addPm(w.market, prov)
    await w.market.credit('buyer', 1_000_000)
    await w.market.login({ username: 'buyer', password: 'correct horse' })
    const vm = await w.market.register(buyer, { config: 'small' })
    await w.market.store(buyer, vm.id, pm.id)
    await w.market.delete(buyer, vm.id)
    await addPm(w.market, prov) // so the price pass below has something to average
    const tables = (who: any) => new Set(seen.filter((c) => visibleTo(c, who)).map((c) => c.table))
    await w.market.pricePass()
    expect(tables(null)).toEqual(new Set(['config', 'pm']))
    for (const who of [null, prov, buyer, eve]) {
      for (const t of ['sessions', 'credentials', 'nodes', 'meta']) expect(tables(who).has(t)).toBe(false)
    }
    const vmChanges = (who: any) => seen.filter((c) => c.table === 'vm' && visibleTo(c, who))
    expect(vmChanges(buyer).length).toBe(3) // register, store, delete
    expect(vmChanges(prov).length).toBe(2) // store and delete: on its machine
    expect(vmChanges(eve)).toEqual([])
    expect(seen.filter((c) => c.table === 'users' && visibleTo(c, eve)).every((c) => c.key === 'eve')).toBe(true)
    expect(seen.filter((c) => c.table === 'ledger' && visibleTo(c, eve))).toEqual([])
    expect(seen.filter((c) => c.table === 'ledger' && visibleTo(c, prov)).length).toBeGreaterThan(0)
    for (const c of seen) expect(JSON.stringify(c.table === 'users' ? c.value : {})).not.toMatch(/hash|salt/)
    const snap = await w.market.snapshot(eve)
    expect(snap.rows.every((c) => ['config', 'pm'].includes(c.table) || c.audience?.includes('eve'))).toBe(true)
    expect(snap.seq).toBe(w.market.seq)
  })
})
