// Reconciliation after a lost answer (issue 11, the simulation's finding). The hub asks a node to
// act and checks the version it answers (provider-call.ts); when the answer is lost (a timeout, a
// dropped connection, a hub restart) the node may have acted while the market still shows the old
// state: a machine stopped on the node stays 'started' in the market and its buyer keeps paying
// for running, until someone repeats the action. Here the hub asks the node what it holds
// ('vm.list') and, for each of its machines one action ahead of the market, applies that action
// as the market would have (report §7.1.5: versions never go out of sync). A machine the market
// places on the node that the node no longer holds (a delete whose answer was lost, a lost disk) leaves
// the market too, its room freed and its debt written off, as 'vm.lost' (lost-copies.ts: not the
// buyer's deletion; a copy another node holds is taken back). The reverse, a copy
// the node holds that the market places elsewhere or deleted, follows the rule in strays.ts. It runs
// when a node says hello and on the hub's daemon timer. Machines with an action or a migration in
// flight are left alone: their own code resolves them.
import type { Ctx } from './context.ts'
import { withVmLock } from './context.ts'
import { transitionOps, type StateAction } from './lifecycle.ts'
import { openMigrations, unsettledMigrations } from './migrations.ts'
import type { VmRow } from './types.ts'
import { lostOps } from './lost-copies.ts'
import { removeStrays, type Held } from './strays.ts'

/** The one action that takes the market's row to what the node holds, or null. */
export function lostAction(vm: Pick<VmRow, 'state' | 'version'>, held: Held): StateAction | null {
  // Stopped one version on: a stop whose answer was lost, or a start whose answer was lost and then
  // a guest that powered off (its exit report was refused while the market did not show it running).
  const on = ['started', 'stored', 'stopped', 'suspended'].includes(vm.state)
  if (on && held.state === 'stopped' && held.version === vm.version + 1) return 'stop'
  if (vm.state === 'started' && held.state === 'suspended' && held.version === vm.version + 1) return 'suspend'
  if ((vm.state === 'stopped' || vm.state === 'stored') && held.state === 'running' && held.version === vm.version)
    return 'start'
  if (vm.state === 'suspended' && held.state === 'running' && held.version === vm.version) return 'resume'
  return null
}

/** Brings the market in line with what `nodeKey` holds; returns the machines it changed. */
export async function reconcileNode(ctx: Ctx, nodeKey: string): Promise<string[]> {
  const node = ctx.store.get('nodes', nodeKey)
  const pm = node?.pmId ? ctx.store.get('pm', node.pmId) : undefined
  if (!pm || !ctx.gateway.online(nodeKey)) return []
  let held: Held[]
  try {
    held = await ctx.gateway.command(nodeKey, 'vm.list', {})
  } catch {
    return [] // asked again at the next pass
  }
  if (!Array.isArray(held)) return []
  const fixed: string[] = []
  const busy = (id: string) => [...openMigrations(ctx), ...unsettledMigrations(ctx)].some((m) => m.vmId === id)
  for (const h of held) {
    if (!h || typeof h.id !== 'string' || !Number.isSafeInteger(h.version)) continue
    const vm0 = ctx.store.get('vm', h.id)
    if (!vm0 || vm0.pmId !== pm.id || ctx.locks.has(h.id) || busy(h.id) || !lostAction(vm0, h)) continue
    await withVmLock(ctx, h.id, async () => {
      // Re-read under the lock: the list is a moment old.
      const vm = ctx.store.get('vm', h.id)
      const action = vm && vm.pmId === pm.id && !busy(h.id) ? lostAction(vm, h) : null
      if (!vm || !action) return
      const note =
        `: its provider holds it ${h.state} at version ${h.version} (an answer was lost, or the guest ` +
        `stopped by itself); the market follows`
      const { ops } = transitionOps(ctx, vm, pm, action, h.version, ctx.clock(), 'hub', note, 'vm.reconciled')
      await ctx.store.write(ops)
      fixed.push(vm.id)
    }).catch(() => {}) // an action began meanwhile: it decides
  }
  const valid = held.filter((h) => h && typeof h.id === 'string' && Number.isSafeInteger(h.version))
  fixed.push(...(await removeStrays(ctx, pm, valid, busy)))
  const listed = new Set(held.map((h) => h?.id))
  for (const vm0 of [...ctx.store.values('vm')]) {
    if (vm0.pmId !== pm.id || listed.has(vm0.id) || vm0.state === 'registered' || vm0.state === 'migrating') continue
    if (ctx.locks.has(vm0.id) || busy(vm0.id)) continue
    await withVmLock(ctx, vm0.id, async () => {
      const vm = ctx.store.get('vm', vm0.id)
      if (!vm || vm.pmId !== pm.id || vm.state === 'registered' || vm.state === 'migrating' || busy(vm.id)) return
      await ctx.store.write(lostOps(ctx, vm, pm, ctx.clock()))
      fixed.push(vm.id)
    }).catch(() => {})
  }
  return fixed
}

/** Every online node bound to a provider machine. */
export async function reconcilePass(ctx: Ctx): Promise<string[]> {
  const out: string[] = []
  for (const pm of [...ctx.store.values('pm')])
    if (ctx.gateway.online(pm.nodeKey)) out.push(...(await reconcileNode(ctx, pm.nodeKey)))
  return out
}
