import { describe, it, expect, afterEach } from 'vitest'
import { world, user, addPm, codeOf, type World } from './helpers.ts'

// Export and import of every table: test/hub/export-file.test.ts.
describe('admin', () => {
  const worlds: World[] = []
  afterEach(async () => {
    for (const w of worlds.splice(0)) await w.close()
  })

  it('credits as deposits; the audit holds; the whole log comes in order with origins', async () => {
    const a = await world()
    worlds.push(a)
    const prov = await user(a.market, 'prov', 'provider')
    const buyer = await user(a.market, 'buyer', 'buyer')
    const pm = await addPm(a.market, prov)
    expect(await codeOf(() => a.market.credit('nobody', 5))).toBe('MARKET_NOT_FOUND')
    expect(await codeOf(() => a.market.credit('buyer', 0))).toBe('MARKET_BAD_INPUT')
    await a.market.credit('buyer', 1_000_000)
    const vm = await a.market.register(buyer, { config: 'small' })
    await a.market.store(buyer, vm.id, pm.id)
    expect(await a.market.audit()).toMatchObject({ ok: true, deposits: 1_000_000 })
    const all = await a.market.logAll()
    expect(all.map((e) => e.type)).toEqual(
      expect.arrayContaining(['user.signup', 'pm.add', 'account.credit', 'vm.register', 'vm.store']),
    )
    // Events come in order, with origin; a user sees only those naming them.
    expect(all.map((e) => e.seq)).toEqual([...all.map((e) => e.seq)].sort((x, y) => x - y))
    expect((await a.market.log(prov)).every((e) => e.users.includes('prov'))).toBe(true)
  })
})
