import { describe, it, expect, afterEach } from 'vitest'
import { world, user, addPm, codeOf, type World } from '../market/helpers.ts'
import { methods, adminMethods } from '../../src/hub/methods.ts'

describe('RPC method table', () => {
  let w: World
  afterEach(async () => {
    await w?.close()
  })

  it('has every method the issue names, with the right auth', () => {
    expect(Object.keys(methods).sort()).toEqual(
      [
        'account',
        'configs',
        'delete',
        'destinations',
        'edit',
        'evict',
        'image.publish',
        'images',
        'log',
        'login',
        'logout',
        'machines',
        'media.attach',
        'media.detach',
        'migrate',
        'migrations',
        'net.create',
        'net.delete',
        'net.list',
        'pm.add',
        'pm.delete',
        'pm.edit',
        'providers',
        'register',
        'resume',
        'search',
        'signup',
        'start',
        'stop',
        'store',
        'suspend',
        'traffic',
        'whoami',
      ].sort(),
    )
    expect(methods.signup.auth).toBe('none')
    expect(methods.store.auth).toBe('buyer')
    expect(methods.migrate.auth).toBe('buyer')
    expect(methods.destinations.auth).toBe('buyer')
    expect(methods.evict.auth).toBe('provider')
    expect(methods.images.auth).toBe('none')
    expect(methods['image.publish'].auth).toBe('provider')
    expect(methods['pm.add'].auth).toBe('provider')
    expect(methods['net.create'].auth).toBe('buyer')
    expect(methods.traffic.auth).toBe('user') // buyers their machines', providers those they host
    expect(Object.keys(adminMethods).sort()).toEqual(['audit', 'credit', 'log-all'])
    expect(methods.credit).toBeUndefined()
  })

  it('rejects wrong types, unknown fields and bad money before any rule runs', async () => {
    w = await world()
    const buyer = await user(w.market, 'buyer', 'buyer')
    expect(await codeOf(() => methods.register.run(w.market, buyer, { config: 'small', evil: 1 }))).toBe(
      'MARKET_BAD_INPUT',
    )
    expect(await codeOf(() => methods.register.run(w.market, buyer, { memory: '128' }))).toBe('MARKET_BAD_INPUT')
    expect(await codeOf(() => methods.register.run(w.market, buyer, [1, 2]))).toBe('MARKET_BAD_INPUT')
    expect(await codeOf(() => methods.register.run(w.market, buyer, { config: 'small', bidStorage: 0.5 }))).toBe(
      'MARKET_BAD_INPUT',
    )
    expect(await codeOf(() => methods.start.run(w.market, buyer, {}))).toBe('MARKET_BAD_INPUT')
    expect(await codeOf(() => methods.search.run(w.market, buyer, { config: 'small', sort: 'cheapest' }))).toBe(
      'MARKET_BAD_INPUT',
    )
    expect(
      await codeOf(() =>
        methods.login.run(w.market, null, { username: 'buyer', password: 'correct horse', __proto__x: 1 }),
      ),
    ).toBe('MARKET_BAD_INPUT')
    const vm: any = await methods.register.run(w.market, buyer, {
      config: 'small',
      bidStorage: '0.0005',
      bidRunning: null,
    })
    expect(vm.bidStorage).toBe(500)
    expect(vm.bidRunning).toBeNull()
  })

  it('runs a whole flow through the table: login, pm.add in days, store, account, credit on the admin table', async () => {
    w = await world()
    const prov = await user(w.market, 'prov', 'provider')
    const buyer = await user(w.market, 'buyer', 'buyer')
    const login: any = await methods.login.run(w.market, null, { username: 'buyer', password: 'correct horse' })
    expect(login.identity).toEqual({ username: 'buyer', type: 'buyer' })
    const pm = await addPm(w.market, prov)
    const edited: any = await methods['pm.edit'].run(w.market, prov, {
      pmId: pm.id,
      storagePrice: '0.001',
      storagePeriodDays: '2',
    })
    expect(edited).toMatchObject({ storagePrice: 1000, storagePeriod: 2 * 86_400 })
    expect(await codeOf(() => methods['pm.edit'].run(w.market, prov, { pmId: pm.id, memory: 1 }))).toBe(
      'MARKET_BAD_INPUT',
    )
    await adminMethods.credit.run(w.market, null, { username: 'buyer', amount: '1.5' })
    const vm: any = await methods.register.run(w.market, buyer, { config: 'small' })
    const offers: any = await methods.search.run(w.market, buyer, { vmId: vm.id })
    await methods.store.run(w.market, buyer, { vmId: vm.id, pmId: offers.results[0].pmId })
    const acct: any = await methods.account.run(w.market, buyer, {})
    expect(acct.balance).toBe(1_500_000 - 6000)
    expect(acct.vms[0]).toMatchObject({ state: 'stored', chargedStorage: 6000 })
    const pacct: any = await methods.account.run(w.market, prov, {})
    expect(pacct.pms[0]).toMatchObject({ pmId: pm.id, income: 6000, vms: [{ vmId: vm.id, storage: 6000, running: 0 }] })
    await methods.logout.run(w.market, w.market.authenticate(login.token), {})
    expect(await codeOf(() => w.market.authenticate(login.token))).toBe('MARKET_AUTH_REQUIRED')
  })
})
