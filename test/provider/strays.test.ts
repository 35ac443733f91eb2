// Copies a node holds that the market does not place on it (issue 11; market/strays.ts), with a real
// Hub and real ProviderAgents: at the node's next hello the hub has it delete a copy only when the
// market places the machine elsewhere at a version at least the node's, or deleted it; otherwise the
// copy is kept and the operator told. The market's migration rules are driven here as the hub's agent
// drives them (the copy itself is put on the destination's hypervisor, as vmmp@1 would).
import { afterEach, beforeEach, expect, it } from 'vitest'
import type { Change, EventRow } from '../../src/market/types.ts'
import { alice, startHubAgent, type HubAgent, type ProviderNode } from './hub-agent.ts'

let w: HubAgent
let n1: ProviderNode
let n2: ProviderNode

beforeEach(async () => {
  w = await startHubAgent('virtuoso-strays-')
  n1 = { hv: w.hv, agent: w.agent, pm: [...w.hub.market.ctx.store.values('pm')][0] }
  n2 = await w.addNode()
})
afterEach(async () => {
  await w.close()
})

const strayEvents = async () =>
  (await w.hub.market.log({ username: 'prov', type: 'provider' })).filter((e) => e.type === 'vm.stray-removed')

/** The next stray removal the market logs (listening from now). */
const nextStray = () =>
  new Promise<EventRow>((resolve) => {
    const on = (c: Change) => {
      const e = c.value as EventRow | null
      if (c.table !== 'events' || e?.type !== 'vm.stray-removed') return
      w.hub.market.off('change', on)
      resolve(e)
    }
    w.hub.market.on('change', on)
  })

/** A machine stored on pm1, then migrated to pm2 and committed there; the origin was never released. */
async function migratedWithoutRelease() {
  const m = w.hub.market
  const vm = await m.register(alice, { config: 'small' })
  await m.store(alice, vm.id, n1.pm.id)
  const v = m.ctx.store.get('vm', vm.id)!.version
  const row = await m.beginMigration(alice, { vmId: vm.id, to: n2.pm.id, method: 'RSYNC' })
  const copy = await n1.hv.get(vm.id)
  await n2.hv.importVm(vm.id, copy.config, { version: v + 1 }) // what the destination does
  await m.commitMigration(row.id, v + 1)
  // The release never reaches the origin, yet the migration counts as settled (a lost cleanup).
  await m.migrationSettled(row.id, { originReleased: true, destCleaned: true })
  return { vm, v }
}

it("removes the origin's copy after a committed migration whose release was lost", async () => {
  const m = w.hub.market
  const { vm, v } = await migratedWithoutRelease()
  expect((await n1.hv.get(vm.id)).version).toBe(v)
  const removed = nextStray()
  await w.reconnect(n1.agent)
  const e = await removed
  expect(await n1.hv.get(vm.id).catch((e) => e.code)).toBe('HV_NOT_FOUND')
  expect((await n2.hv.get(vm.id)).version).toBe(v + 1) // the live copy is untouched
  expect(m.ctx.store.get('vm', vm.id)).toMatchObject({ pmId: n2.pm.id, version: v + 1 })
  expect(await strayEvents()).toEqual([e])
  expect(e.message).toMatch(/runs elsewhere/)
  expect(e.message).not.toContain('pm2') // the old provider is not told where the machine went
})

it('keeps a copy newer than the one the market places elsewhere, and says so once', async () => {
  const m = w.hub.market
  const vm = await m.register(alice, { config: 'small' })
  await m.store(alice, vm.id, n1.pm.id)
  const v = m.ctx.store.get('vm', vm.id)!.version
  const copy = await n1.hv.get(vm.id)
  await n2.hv.importVm(vm.id, copy.config, { version: v + 3 })
  await w.reconnect(n2.agent)
  const kept = new RegExp(`pm2 holds machine ${vm.id} at version ${v + 3}.*kept`)
  const line = await w.untilLog(kept)
  expect(line).toMatch(new RegExp(`market holds it stored at version ${v}`))
  await m.reconcilePass() // the next pass keeps it again, without telling again
  expect(w.logs.filter((l) => kept.test(l))).toHaveLength(1)
  expect((await n2.hv.get(vm.id)).version).toBe(v + 3)
  expect(await strayEvents()).toHaveLength(0)
})

it('removes a copy of a machine deleted in the market; keeps one the market never knew', async () => {
  const m = w.hub.market
  const vm = await m.register(alice, { config: 'small' })
  await m.store(alice, vm.id, n1.pm.id)
  const copy = await n1.hv.get(vm.id)
  await m.delete(alice, vm.id)
  // The node comes back from a backup taken before the delete, with a machine no market made too.
  await n1.hv.importVm(vm.id, copy.config, { version: copy.version })
  const unknown = '00000000-0000-4000-8000-00000000beef'
  await n1.hv.importVm(unknown, copy.config, { version: 7 })
  const removed = nextStray()
  await w.reconnect(n1.agent)
  expect((await removed).message).toMatch(/deleted in the market/)
  expect(await n1.hv.get(vm.id).catch((e) => e.code)).toBe('HV_NOT_FOUND')
  await w.untilLog(new RegExp(`pm1 holds machine ${unknown} at version 7, the market has no such machine: kept`))
  expect((await n1.hv.get(unknown)).version).toBe(7)
})

it("never removes the buyer's last copy: a machine whose node lost it is taken back from an older copy", async () => {
  const m = w.hub.market
  const { vm, v } = await migratedWithoutRelease()
  await n2.hv.delete(vm.id) // pm2's disk is gone: pm1's older copy is the only one left
  // pm1 first: the market still places the machine on pm2, but pm2 does not confirm its copy: kept.
  await m.reconcileNode(n1.agent.nodeKey)
  expect((await n1.hv.get(vm.id)).version).toBe(v)
  expect(await strayEvents()).toHaveLength(0)
  // pm2: the market drops the machine as lost, which is no deletion of the buyer's.
  await m.reconcileNode(n2.agent.nodeKey)
  expect(m.ctx.store.get('vm', vm.id)).toBeUndefined()
  const types = async () => (await m.log(alice)).filter((e) => e.vmId === vm.id).map((e) => e.type)
  expect(await types()).toContain('vm.lost')
  expect(await types()).not.toContain('vm.delete')
  // pm1 again: its copy is taken back, at its version.
  await m.reconcileNode(n1.agent.nodeKey)
  expect((await n1.hv.get(vm.id)).version).toBe(v)
  expect(m.ctx.store.get('vm', vm.id)).toMatchObject({ pmId: n1.pm.id, version: v, state: 'stored' })
  const back = (await m.log(alice)).find((e) => e.type === 'vm.readopted')!
  expect(back.message).toMatch(new RegExp(`back, stored at version ${v}, from the copy pm1 kept`))
  expect(m.ctx.store.get('pm', n1.pm.id)!.usedStorage).toBe(vm.hd)
  // It is the buyer's machine again: it starts there.
  await m.start(alice, vm.id)
  expect((await n1.hv.get(vm.id)).state).toBe('running')
})
