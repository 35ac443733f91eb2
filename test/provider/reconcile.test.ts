// Reconciliation after a lost answer (issue 11; found by the simulation), with a real Hub and a real
// ProviderAgent on a loopback testnet: the node carries out an action whose answer never reaches the
// hub (done here on the node's Hypervisor directly, as the node does when it acts), the connection
// drops, and at the next hello the hub finds the difference and the market follows the node.
import { afterEach, beforeEach, expect, it } from 'vitest'
import { untilChange } from '../market/helpers.ts'
import { alice, startHubAgent, type HubAgent } from './hub-agent.ts'

let w: HubAgent
beforeEach(async () => {
  w = await startHubAgent('virtuoso-reconcile-')
})
afterEach(async () => {
  await w.close()
})

it('a stop whose answer was lost: the market follows the node and stops charging for running', async () => {
  const m = w.hub.market
  const vm = await m.register(alice, { config: 'small' })
  const pm = [...m.ctx.store.values('pm')][0]
  await m.store(alice, vm.id, pm.id)
  await m.start(alice, vm.id)
  const v = m.ctx.store.get('vm', vm.id)!.version
  await w.hv.stop(vm.id) // what the node does for 'vm.stop'; its answer never reaches the hub
  expect(m.ctx.store.get('vm', vm.id)!.state).toBe('started')
  await w.reconnect()
  await untilChange(m, () => m.ctx.store.get('vm', vm.id)!.state === 'stopped')
  expect(m.ctx.store.get('vm', vm.id)!).toMatchObject({ version: v + 1, runningPaidUntil: null })
  const e = (await m.log(alice)).filter((x) => x.vmId === vm.id).at(-1)!
  expect(e.type).toBe('vm.reconciled')
})

it('a delete whose answer was lost: the machine leaves the market and its room is freed', async () => {
  const m = w.hub.market
  const vm = await m.register(alice, { config: 'small' })
  const pm = [...m.ctx.store.values('pm')][0]
  await m.store(alice, vm.id, pm.id)
  expect(m.ctx.store.get('pm', pm.id)!.usedStorage).toBeGreaterThan(0)
  await w.hv.delete(vm.id)
  await w.reconnect()
  await untilChange(m, () => !m.ctx.store.get('vm', vm.id))
  expect(m.ctx.store.get('pm', pm.id)!.usedStorage).toBe(0)
  const audit = await m.audit()
  expect(audit.balances).toBe(audit.deposits)
})
