import { describe, it, expect, afterEach } from 'vitest'
import { world, user, addPm, codeOf, type World } from './helpers.ts'

describe('admin', () => {
  const worlds: World[] = []
  afterEach(async () => {
    for (const w of worlds.splice(0)) await w.close()
  })

  it('credits as deposits, exports and imports every table without loss', async () => {
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
    const { token } = await a.market.login({ username: 'buyer', password: 'correct horse' })
    const lines: string[] = []
    for await (const l of a.market.exportAll()) lines.push(l)

    const b = await world()
    worlds.push(b)
    expect(await codeOf(() => b.market.importAll(['not json']))).toBe('MARKET_BAD_INPUT')
    const rows = await b.market.importAll(lines)
    expect(rows).toBe(lines.length - 1)
    const again: string[] = []
    for await (const l of b.market.exportAll()) again.push(l)
    expect(again).toEqual(lines)
    expect(b.market.authenticate(token).username).toBe('buyer')
    expect(b.market.db.get('vm', vm.id)).toEqual(a.market.db.get('vm', vm.id))
    expect(b.market.seq).toBe(a.market.seq)
    await b.reopen()
    expect(b.market.db.get('users', 'buyer')).toEqual(a.market.db.get('users', 'buyer'))
    expect((await b.market.audit()).ok).toBe(true)
    const all = await b.market.logAll()
    expect(all.map((e) => e.type)).toEqual(
      expect.arrayContaining(['user.signup', 'pm.add', 'account.credit', 'vm.register', 'vm.store']),
    )
    // Events come in order, with origin; a user sees only those naming them.
    expect(all.map((e) => e.seq)).toEqual([...all.map((e) => e.seq)].sort((x, y) => x - y))
    expect((await b.market.log(prov)).every((e) => e.users.includes('prov'))).toBe(true)
  })
})
