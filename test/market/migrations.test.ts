// Market rules of migration (src/market/migrations.ts) over the fake gateway and a controllable
// clock: who may begin, which states and destinations are allowed, what commit moves and charges,
// what revert restores, and that a restart keeps open migrations for the agent to resolve.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { addPm, codeOf, DAY, user, world, type World } from './helpers.ts'
import type { Identity, PmRow } from '../../src/market/types.ts'

let w: World
let buyer: Identity
let other: Identity
let prov: Identity
let a: PmRow
let b: PmRow
let vmId = ''

const total = () => [...w.market.ctx.store.values('users')].reduce((s, u) => s + u.balance, 0)

beforeEach(async () => {
  w = await world()
  buyer = await user(w.market, 'alice', 'buyer')
  other = await user(w.market, 'bob', 'buyer')
  prov = await user(w.market, 'prov', 'provider')
  a = await addPm(w.market, prov, { name: 'a' })
  b = await addPm(w.market, prov, { name: 'b', sheet: { storagePrice: 2000 } })
  await w.market.credit('alice', 1_000_000)
  const vm = await w.market.register(buyer, { config: 'small' })
  vmId = vm.id
  await w.market.store(buyer, vmId, a.id)
})
afterEach(async () => {
  await w.close()
})

describe('begin', () => {
  it('puts the machine in migrating, remembers prevState, reserves room on the destination', async () => {
    const vm0 = w.market.ctx.store.get('vm', vmId)!
    const m = await w.market.beginMigration(buyer, { vmId, to: b.id, method: 'RSYNC' })
    expect(m).toMatchObject({
      vmId,
      phase: 'preparing',
      prevState: 'stored',
      version: vm0.version,
      method: 'RSYNC',
      owner: 'alice',
    })
    expect(m.from.pmId).toBe(a.id)
    expect(m.to.pmId).toBe(b.id)
    expect(w.market.ctx.store.get('vm', vmId)).toMatchObject({ state: 'migrating', prevState: 'stored', pmId: a.id })
    expect(w.market.ctx.store.get('pm', b.id)!.usedMemory).toBe(vm0.memory)
    expect(w.market.openMigrations().map((x) => x.id)).toEqual([m.id])
    expect(await codeOf(() => w.market.beginMigration(buyer, { vmId, to: b.id, method: 'RSYNC' }))).toBe(
      'MARKET_ACTION_NOT_ALLOWED',
    )
  })

  it('refuses: not the owner, same PM, running, offline, draining, no room, no funds, storage debt', async () => {
    expect(await codeOf(() => w.market.beginMigration(other, { vmId, to: b.id, method: 'RSYNC' }))).toBe(
      'MARKET_NOT_FOUND',
    )
    expect(await codeOf(() => w.market.beginMigration(prov, { vmId, to: b.id, method: 'RSYNC' }))).toBe(
      'MARKET_FORBIDDEN',
    )
    expect(await codeOf(() => w.market.beginMigration(buyer, { vmId, to: a.id, method: 'RSYNC' }))).toBe(
      'MARKET_BAD_INPUT',
    )
    expect(await codeOf(() => w.market.beginMigration(buyer, { vmId, to: 'nope', method: 'RSYNC' }))).toBe(
      'MARKET_NOT_FOUND',
    )
    await w.market.start(buyer, vmId)
    expect(await codeOf(() => w.market.beginMigration(buyer, { vmId, to: b.id, method: 'RSYNC' }))).toBe(
      'MARKET_ACTION_NOT_ALLOWED',
    )
    await w.market.stop(buyer, vmId)
    w.gateway.offline.add(b.nodeKey)
    expect(await codeOf(() => w.market.beginMigration(buyer, { vmId, to: b.id, method: 'RSYNC' }))).toBe(
      'MARKET_PROVIDER_OFFLINE',
    )
    w.gateway.offline.clear()
    const tiny = await addPm(w.market, prov, { name: 'tiny', info: { memory: 16 } })
    expect(await codeOf(() => w.market.beginMigration(buyer, { vmId, to: tiny.id, method: 'RSYNC' }))).toBe(
      'MARKET_NO_ROOM',
    )
    const dear = await addPm(w.market, prov, { name: 'dear', sheet: { storagePrice: 500_000_000 } })
    expect(await codeOf(() => w.market.beginMigration(buyer, { vmId, to: dear.id, method: 'RSYNC' }))).toBe(
      'MARKET_INSUFFICIENT_FUNDS',
    )
    const squatter = await w.market.register(other, { config: 'small' })
    await w.market.credit('bob', 1_000_000)
    await w.market.store(other, squatter.id, b.id)
    await w.market.pmDelete(prov, b.id, { drainMs: DAY }) // draining while it still holds a machine
    expect(await codeOf(() => w.market.beginMigration(buyer, { vmId, to: b.id, method: 'RSYNC' }))).toBe(
      'MARKET_NO_ROOM',
    )
  })

  it('refuses while storage is owed', async () => {
    const poor = await user(w.market, 'poor', 'buyer')
    await w.market.credit('poor', 3000)
    const vm = await w.market.register(poor, { config: 'small' })
    await w.market.store(poor, vm.id, a.id)
    w.clock.t += 3 * DAY
    await w.market.billingPass()
    expect(await codeOf(() => w.market.beginMigration(poor, { vmId: vm.id, to: b.id, method: 'RSYNC' }))).toBe(
      'MARKET_STORAGE_DEBT',
    )
  })
})

describe('commit', () => {
  it('one batch: pairing, resources, version, prevState, a new storage period at the destination prices', async () => {
    await w.market.stop(buyer, vmId).catch(() => {}) // stored: stays stored
    const vm0 = w.market.ctx.store.get('vm', vmId)!
    const balance0 = w.market.ctx.store.get('users', 'alice')!.balance
    const prov0 = w.market.ctx.store.get('users', 'prov')!.balance
    const sum0 = total()
    const m = await w.market.beginMigration(buyer, { vmId, to: b.id, method: 'SCP' })
    w.clock.t += 1000
    expect(await codeOf(() => w.market.commitMigration(m.id, vm0.version + 2))).toBe('MARKET_VERSION_MISMATCH')
    const done = await w.market.commitMigration(m.id, vm0.version + 1)
    expect(done).toMatchObject({ phase: 'committed', newVersion: vm0.version + 1 })
    const vm = w.market.ctx.store.get('vm', vmId)!
    expect(vm).toMatchObject({
      state: 'stored',
      prevState: null,
      pmId: b.id,
      version: vm0.version + 1,
      lastDebitedStorage: w.clock.t,
    })
    expect(vm.storagePrice).toBeGreaterThan(vm0.storagePrice) // b charges double
    expect(w.market.ctx.store.get('pairings', vmId)).toEqual({ vmId, pmId: b.id })
    expect(w.market.ctx.store.get('pm', a.id)!.usedMemory).toBe(0)
    expect(w.market.ctx.store.get('pm', b.id)!.usedMemory).toBe(vm.memory)
    expect(w.market.ctx.store.get('users', 'alice')!.balance).toBe(balance0 - vm.storagePrice)
    expect(w.market.ctx.store.get('users', 'prov')!.balance).toBe(prov0 + vm.storagePrice)
    expect(total()).toBe(sum0)
    expect((await w.market.commitMigration(m.id, vm0.version + 1)).phase).toBe('committed') // idempotent
    expect(w.market.unsettledMigrations().map((x) => x.id)).toEqual([m.id])
    await w.market.migrationSettled(m.id, { originReleased: true })
    expect(w.market.unsettledMigrations()).toEqual([])
    const log = await w.market.log(buyer)
    expect(log.map((e) => e.type)).toContain('vm.migrated')
  })

  it('a suspended machine comes back suspended', async () => {
    await w.market.start(buyer, vmId)
    await w.market.suspend(buyer, vmId)
    const v = w.market.ctx.store.get('vm', vmId)!.version
    const m = await w.market.beginMigration(buyer, { vmId, to: b.id, method: 'RSYNC' })
    await w.market.commitMigration(m.id, v + 1)
    expect(w.market.ctx.store.get('vm', vmId)).toMatchObject({ state: 'suspended', pmId: b.id, version: v + 1 })
  })
})

describe('revert', () => {
  it('back to prevState at the origin, reservation released, nothing charged; a late commit is refused', async () => {
    const vm0 = w.market.ctx.store.get('vm', vmId)!
    const sum0 = total()
    const balance0 = w.market.ctx.store.get('users', 'alice')!.balance
    const m = await w.market.beginMigration(buyer, { vmId, to: b.id, method: 'RSYNC' })
    await w.market.migrationProgress(m.id, { phase: 'copying', bytesDone: 10, bytesTotal: 100 })
    expect(w.market.getMigration(m.id)).toMatchObject({ phase: 'copying', bytesDone: 10 })
    const r = await w.market.revertMigration(m.id, { code: 'VMMP_STALLED', message: 'no heartbeat' })
    expect(r).toMatchObject({ phase: 'failed', error: { code: 'VMMP_STALLED' } })
    expect(w.market.ctx.store.get('vm', vmId)).toMatchObject({
      state: 'stored',
      pmId: a.id,
      version: vm0.version,
      prevState: null,
    })
    expect(w.market.ctx.store.get('pm', b.id)!.usedMemory).toBe(0)
    expect(w.market.ctx.store.get('users', 'alice')!.balance).toBe(balance0)
    expect(total()).toBe(sum0)
    expect(await codeOf(() => w.market.commitMigration(m.id, vm0.version + 1))).toBe('MARKET_ACTION_NOT_ALLOWED')
    await w.market.migrationProgress(m.id, { bytesDone: 99 }) // late frame: ignored
    expect(w.market.getMigration(m.id).bytesDone).toBe(10)
    expect(w.market.unsettledMigrations().map((x) => x.id)).toEqual([m.id])
  })
})

describe('visibility and restarts', () => {
  it('lists a migration to its owner and the provider, not to another buyer; open ones survive a restart', async () => {
    const m = await w.market.beginMigration(buyer, { vmId, to: b.id, method: 'RSYNC' })
    expect(w.market.migrations(buyer).map((x) => x.id)).toEqual([m.id])
    expect(w.market.migrations(prov).map((x) => x.id)).toEqual([m.id])
    expect(w.market.migrations(other)).toEqual([])
    const snap = await w.market.snapshot(other)
    expect(snap.rows.some((r) => r.table === 'migrations')).toBe(false)
    expect((await w.market.snapshot(buyer)).rows.some((r) => r.table === 'migrations' && r.key === m.id)).toBe(true)
    await w.reopen()
    expect(w.market.openMigrations().map((x) => x.id)).toEqual([m.id])
    expect(w.market.ctx.store.get('vm', vmId)!.state).toBe('migrating')
  })

  it('migrate without an agent answers plainly', async () => {
    expect(await codeOf(() => w.market.migrate(buyer, { vmId, to: b.id }))).toBe('MARKET_PROVIDER_FAILED')
  })
})
