import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { world, user, addPm, codeOf, type World } from './helpers.ts'
import type { Identity, PmRow } from '../../src/market/types.ts'

describe('lifecycle', () => {
  let w: World, prov: Identity, buyer: Identity, pm: PmRow
  beforeEach(async () => {
    w = await world()
    prov = await user(w.market, 'prov', 'provider')
    buyer = await user(w.market, 'buyer', 'buyer')
    pm = await addPm(w.market, prov)
    await w.market.credit('buyer', 10_000_000)
  })
  afterEach(async () => {
    await w.close()
  })

  it('stores: provider creates it, prices fixed, resources and pairing taken, first storage charged, in one batch', async () => {
    const vm = await w.market.register(buyer, { config: 'small' })
    expect(vm.version).toBe(0)
    const before = w.market.seq
    const s = await w.market.store(buyer, vm.id, pm.id)
    expect(w.gateway.calls.at(-1)).toEqual({
      nodeKey: pm.nodeKey,
      method: 'vm.create',
      params: {
        vmId: vm.id,
        config: {
          memory: 128,
          hd: 2100,
          speed: 1000,
          os: null,
          nic: { mac: vm.mac, net: vm.netId, address: vm.address, prefix: 24 },
        },
        version: 0,
      },
    })
    expect(s).toMatchObject({
      state: 'stored',
      version: 1,
      pmId: pm.id,
      storagePrice: 3000,
      runningPrice: 2 * 3600,
      lastDebitedStorage: w.clock.t,
      chargedStorage: 3000,
    })
    expect(w.market.db.get('pairings', vm.id)).toEqual({ vmId: vm.id, pmId: pm.id })
    expect(w.market.db.get('pm', pm.id)).toMatchObject({ usedSpeed: 1000, usedMemory: 128, usedStorage: 2100 })
    expect(w.market.db.get('users', 'buyer')!.balance).toBe(10_000_000 - 3000)
    expect(w.market.db.get('users', 'prov')!.balance).toBe(3000)
    const changes = (await w.market.changesSince(before))!
    expect(new Set(changes.map((c) => c.table))).toEqual(new Set(['ledger', 'vm', 'pairings', 'pm', 'users', 'events']))
  })

  it('bumps versions: store, stop, suspend +1; start, resume +0; and checks the provider agrees', async () => {
    const vm = await w.market.register(buyer, { config: 'small' })
    await w.market.store(buyer, vm.id, pm.id)
    expect((await w.market.start(buyer, vm.id)).version).toBe(1)
    expect((await w.market.stop(buyer, vm.id)).version).toBe(2)
    expect((await w.market.start(buyer, vm.id)).version).toBe(2)
    expect((await w.market.suspend(buyer, vm.id)).state).toBe('suspended')
    expect(w.market.db.get('vm', vm.id)!.version).toBe(3)
    expect((await w.market.resume(buyer, vm.id)).version).toBe(3)
    // Start and resume carry what the guest's first-boot seed says: its name and the owner's keys.
    expect(w.gateway.calls.at(-1)!.params).toEqual({
      vmId: vm.id,
      version: 3,
      guest: {
        hostname: 'small',
        sshKeys: [],
        hostKey: {
          public: w.market.db.get('vm', vm.id)!.hostKey,
          private: w.market.db.get('hostkeys', vm.id)!.private,
        },
      },
    })
    // The host key the market made at register: ed25519; its private half only in a hub-only table.
    expect(w.market.db.get('vm', vm.id)!.hostKey).toMatch(/^ssh-ed25519 AAAA[A-Za-z0-9+/=]+$/)
    expect(w.market.db.get('hostkeys', vm.id)!.private).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/)
    w.gateway.lie = 7
    expect(await codeOf(() => w.market.stop(buyer, vm.id))).toBe('MARKET_VERSION_MISMATCH')
    expect(w.market.db.get('vm', vm.id)!.state).toBe('started')
  })

  it("register --ssh-key: the key file's lines reach the guest at start; anything else is refused", async () => {
    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILifecycleTestKeyLifecycleTestKeyLifecycle0 a@b'
    expect(await codeOf(() => w.market.register(buyer, { config: 'small', sshKey: 'not a key' }))).toBe(
      'MARKET_BAD_INPUT',
    )
    const vm = await w.market.register(buyer, { config: 'small', name: 'My Web_1', sshKey: `# mine\n${key}\n` })
    await w.market.store(buyer, vm.id, pm.id)
    await w.market.start(buyer, vm.id)
    expect(w.gateway.calls.at(-1)!.params.guest).toMatchObject({ hostname: 'my-web-1', sshKeys: [key] })
  })

  it('refuses actions the state does not allow', async () => {
    const vm = await w.market.register(buyer, { config: 'small' })
    expect(await codeOf(() => w.market.start(buyer, vm.id))).toBe('MARKET_ACTION_NOT_ALLOWED')
    await w.market.store(buyer, vm.id, pm.id)
    expect(await codeOf(() => w.market.edit(buyer, vm.id, { memory: 256 }))).toBe('MARKET_ACTION_NOT_ALLOWED')
    expect(await codeOf(() => w.market.store(buyer, vm.id, pm.id))).toBe('MARKET_ACTION_NOT_ALLOWED')
    await w.market.start(buyer, vm.id)
    expect(await codeOf(() => w.market.delete(buyer, vm.id))).toBe('MARKET_ACTION_NOT_ALLOWED')
    expect(await codeOf(() => w.market.resume(buyer, vm.id))).toBe('MARKET_ACTION_NOT_ALLOWED')
    await w.market.db.write([
      { type: 'put', table: 'vm', key: vm.id, value: { ...w.market.db.get('vm', vm.id)!, state: 'migrating' } },
    ])
    expect(await codeOf(() => w.market.stop(buyer, vm.id))).toBe('MARKET_ACTION_NOT_ALLOWED')
  })

  it('answers forged ids like missing ones, and keeps providers and buyers apart', async () => {
    const mallory = await user(w.market, 'mallory', 'buyer')
    await w.market.credit('mallory', 10_000_000)
    const vm = await w.market.register(buyer, { config: 'small' })
    await w.market.store(buyer, vm.id, pm.id)
    for (const f of [
      () => w.market.start(mallory, vm.id),
      () => w.market.delete(mallory, vm.id),
      () => w.market.edit(mallory, vm.id, {}),
      () => w.market.search(mallory, { vmId: vm.id }),
    ]) {
      expect(await codeOf(f)).toBe('MARKET_NOT_FOUND')
    }
    expect(await codeOf(() => w.market.start(mallory, 'no-such-id'))).toBe('MARKET_NOT_FOUND')
    const mine = w.market.machines(mallory)
    expect(mine.type === 'buyer' && mine.vms).toEqual([])
    expect(await codeOf(() => w.market.start(prov, vm.id))).toBe('MARKET_FORBIDDEN')
    expect(await codeOf(() => w.market.register(prov, { config: 'small' }))).toBe('MARKET_FORBIDDEN')
    expect(await codeOf(() => w.market.pmEdit(buyer, pm.id, {}))).toBe('MARKET_FORBIDDEN')
    expect(await codeOf(() => w.market.start(null, vm.id))).toBe('MARKET_AUTH_REQUIRED')
  })

  it('refuses to store without room or funds, and on an offline provider', async () => {
    const big = await w.market.register(buyer, { memory: 4096, hd: 2100, speed: 100 })
    expect(await codeOf(() => w.market.store(buyer, big.id, pm.id))).toBe('MARKET_NO_ROOM')
    const poor = await user(w.market, 'poor', 'buyer')
    const p = await w.market.register(poor, { config: 'small' })
    expect(await codeOf(() => w.market.store(poor, p.id, pm.id))).toBe('MARKET_INSUFFICIENT_FUNDS')
    const vm = await w.market.register(buyer, { config: 'small' })
    w.gateway.offline.add(pm.nodeKey)
    expect(await codeOf(() => w.market.store(buyer, vm.id, pm.id))).toBe('MARKET_PROVIDER_OFFLINE')
    w.gateway.offline.clear()
    w.gateway.failNext.add('vm.create')
    expect(await codeOf(() => w.market.store(buyer, vm.id, pm.id))).toBe('MARKET_PROVIDER_FAILED')
    expect(w.market.db.get('vm', vm.id)!.state).toBe('registered')
    expect(w.market.db.get('pm', pm.id)!.usedMemory).toBe(0)
  })

  it('lets one action at a time run on a machine', async () => {
    const vm = await w.market.register(buyer, { config: 'small' })
    await w.market.store(buyer, vm.id, pm.id)
    let release!: () => void
    w.gateway.gate = new Promise((r) => {
      release = r
    })
    const first = w.market.start(buyer, vm.id)
    expect(await codeOf(() => w.market.start(buyer, vm.id))).toBe('MARKET_BUSY')
    release()
    w.gateway.gate = null
    expect((await first).state).toBe('started')
  })

  it('deletes where allowed, freeing resources and pairing', async () => {
    const reg = await w.market.register(buyer, { config: 'small' })
    await w.market.delete(buyer, reg.id)
    expect(w.market.db.get('vm', reg.id)).toBeUndefined()
    const vm = await w.market.register(buyer, { config: 'small' })
    await w.market.store(buyer, vm.id, pm.id)
    await w.market.delete(buyer, vm.id)
    expect(w.gateway.calls.at(-1)).toMatchObject({ method: 'vm.delete', params: { vmId: vm.id } })
    expect(w.market.db.get('vm', vm.id)).toBeUndefined()
    expect(w.market.db.get('pairings', vm.id)).toBeUndefined()
    expect(w.market.db.get('pm', pm.id)).toMatchObject({ usedSpeed: 0, usedMemory: 0, usedStorage: 0 })
  })

  it('lists machines for buyers and providers', async () => {
    const vm = await w.market.register(buyer, { config: 'small', name: 'web' })
    await w.market.store(buyer, vm.id, pm.id)
    const b = w.market.machines(buyer)
    expect(b.type).toBe('buyer')
    if (b.type === 'buyer')
      expect(b.vms[0]).toMatchObject({
        id: vm.id,
        name: 'web',
        state: 'stored',
        version: 1,
        actions: ['start', 'migrate', 'delete'],
        provider: { pmId: pm.id, owner: 'prov' },
      })
    const p = w.market.machines(prov)
    if (p.type !== 'provider') throw new Error('expected provider view')
    expect(p.pms[0]).toMatchObject({
      pmId: pm.id,
      used: { speed: 1000, memory: 128, storage: 2100 },
      free: { memory: 2048 - 128 },
    })
    expect(p.pms[0].vms.map((v) => v.id)).toEqual([vm.id])
  })

  it('registers from explicit resources with validation and edits while registered', async () => {
    expect(await codeOf(() => w.market.register(buyer, { memory: 128, hd: 1000, speed: 100 }))).toBe('MARKET_BAD_INPUT')
    expect(await codeOf(() => w.market.register(buyer, { config: 'nope' }))).toBe('MARKET_NOT_FOUND')
    const vm = await w.market.register(buyer, {
      memory: 128,
      hd: 2100,
      speed: 100,
      os: 'linux',
      bidStorage: 5,
      bidRunning: null,
    })
    expect(vm).toMatchObject({ configName: null, os: 'linux', bidStorage: 5, bidRunning: null, state: 'registered' })
    const e = await w.market.edit(buyer, vm.id, { memory: 256, bidRunning: 9 })
    expect(e).toMatchObject({ memory: 256, bidRunning: 9 })
  })

  it('refuses sizes given with a configuration instead of dropping them (issue 11, item 17)', async () => {
    const before = w.market.db.rows('vm').size
    for (const extra of [{ memory: 512 }, { hd: 9000 }, { speed: 50 }]) {
      const err = await w.market.register(buyer, { config: 'small', ...extra }).catch((e) => e)
      expect(err.code).toBe('MARKET_BAD_INPUT')
      expect(err.message).toMatch(new RegExp(`--${Object.keys(extra)[0]}`))
    }
    expect(w.market.db.rows('vm').size).toBe(before)
    // The configuration alone, and os with it, still register.
    expect((await w.market.register(buyer, { config: 'small', os: 'linux' })).configName).toBe('small')
  })
})
