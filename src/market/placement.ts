// Reads the hub's own services (the console tickets, the migration agent) need, so none of them
// reaches into the store behind the Market's back.
import type { Ctx } from './context.ts'
import { ownVm, requireBuyer } from './context.ts'
import { errors, marketError, MARKET_NOT_FOUND } from './errors.ts'
import { requireAction } from './statusrelations.ts'
import type { Identity, PmRow, VmAction, VmRow } from './types.ts'

/** A machine's row; MARKET_NOT_FOUND when there is none. */
export function machineRow(ctx: Ctx, vmId: string): VmRow {
  const vm = ctx.store.get('vm', vmId)
  if (!vm) throw errors.notFound('machine', vmId)
  return vm
}

/** What a hub service needs of a machine before it acts on it, beyond being the caller's own. */
export interface PlacementNeeds {
  /** An action the machine's state must allow (statusrelations). */
  action?: VmAction
  /** Not while it migrates (its provider changes): any other state will do. */
  settled?: boolean
  /** Its provider node is connected to the hub now. */
  online?: boolean
}

/** A buyer's own machine and the provider machine it is stored on; `what` names the action for errors. */
export function placement(
  ctx: Ctx,
  who: Identity | null,
  vmId: unknown,
  what: string,
  needs: PlacementNeeds = {},
): { vm: VmRow; pm: PmRow } {
  const me = requireBuyer(who, what)
  if (typeof vmId !== 'string' || vmId.length === 0 || vmId.length > 64)
    throw errors.badInput(what, '"vmId" must be a machine id')
  const vm = ownVm(ctx, me, vmId)
  const pm = vm.pmId ? ctx.store.get('pm', vm.pmId) : undefined
  if (!pm) throw errors.actionNotAllowed(what, vm.state, ['stored on a provider'])
  if (needs.action) requireAction(vm.state, needs.action)
  if (needs.settled && vm.state === 'migrating')
    throw errors.actionNotAllowed(what, vm.state, ['stored', 'started', 'stopped', 'suspended'])
  if (needs.online && !ctx.gateway.online(pm.nodeKey)) throw errors.providerOffline(pm.id)
  return { vm, pm }
}

/** What a provider node said about itself at its last hello ({} if it never said hello). */
export function nodeInfo(ctx: Ctx, nodeKey: string): Record<string, unknown> {
  const info = ctx.store.get('nodes', nodeKey)?.info
  return info && typeof info === 'object' ? (info as Record<string, unknown>) : {}
}

/** The node that carries a provider machine; MARKET_NOT_FOUND once the machine is deleted. */
export function pmNodeKey(ctx: Ctx, pmId: string): string {
  const pm = ctx.store.get('pm', pmId)
  if (!pm) throw marketError(MARKET_NOT_FOUND, `provider machine ${pmId} is gone (deleted); list the offers again`)
  return pm.nodeKey
}
