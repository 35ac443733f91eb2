// Removing a stored machine from the market: the buyer deletes it, or a withdrawn provider's drain
// deadline passes (evict). The provider deletes its copy first; then ONE batch frees the room and
// the pairing, charges what was owed up to now and writes off unpaid storage.
import type { Ctx } from './context.ts'
import { ownVm, pmRow, requireBuyer, withVmLock } from './context.ts'
import { accrue } from './billing.ts'
import { eventOp, userOrigin } from './events.ts'
import { formatMoney } from './pricing.ts'
import { roomOp } from './room.ts'
import { requireAction } from './statusrelations.ts'
import type { Op } from './store.ts'
import type { Identity, PmRow, VmRow } from './types.ts'
import { Wallet } from './wallet.ts'

import { askProvider } from './provider-call.ts'
import { transitionOps } from './lifecycle.ts'

/** Ops that remove a stored machine from the market: frees its room and pairing. Debt is written off. */
export function removeOps(
  ctx: Ctx,
  vm0: VmRow,
  pm: PmRow,
  now: number,
  origin: string,
  why: string,
  /** 'vm.lost' when its node no longer held it (lost-copies.ts): then it is no deletion of the buyer's. */
  type: 'vm.delete' | 'vm.lost' = 'vm.delete',
): Op[] {
  const vm = { ...vm0 }
  const wallet = new Wallet(ctx.store)
  const { ops } = accrue(vm, now, wallet, pm.owner) // periods begun before now are owed
  ops.push(
    { type: 'del', table: 'vm', key: vm.id },
    { type: 'del', table: 'hostkeys', key: vm.id },
    { type: 'del', table: 'pairings', key: vm.id },
    ...roomOp(ctx, pm.id, vm, -1),
    ...wallet.flush(),
    eventOp(now, {
      origin,
      type,
      message:
        `${type === 'vm.lost' ? 'lost' : 'deleted'} ${vm.name} ${type === 'vm.lost' ? 'on' : 'from'} ` +
        `${pm.name}${why}${vm.storageDebt > 0 ? `; unpaid storage ${formatMoney(vm.storageDebt)} written off` : ''}`,
      users: [vm.owner, pm.owner],
      vmId: vm.id,
      pmId: pm.id,
    }),
  )
  return ops
}

export async function deleteVm(ctx: Ctx, who: Identity | null, vmId: string): Promise<void> {
  const buyer = requireBuyer(who, 'delete')
  const vm0 = ownVm(ctx, buyer, vmId)
  requireAction(vm0.state, 'delete')
  await withVmLock(ctx, vmId, async () => {
    const vm = ctx.store.get('vm', vmId)!
    requireAction(vm.state, 'delete')
    const now = ctx.clock()
    if (vm.state === 'registered') {
      await ctx.store.write([
        { type: 'del', table: 'vm', key: vmId },
        { type: 'del', table: 'hostkeys', key: vmId },
        eventOp(now, {
          origin: userOrigin(buyer),
          type: 'vm.delete',
          message: `deleted ${vm.name}`,
          users: [vm.owner],
          vmId,
        }),
      ])
      return
    }
    await askProvider(ctx, pmRow(ctx, vm.pmId), vm, 'vm.delete', {})
    // Re-read after the await: billing may have charged the machine and others changed the pm meanwhile.
    const now2 = ctx.clock()
    const vm2 = ctx.store.get('vm', vmId)!
    await ctx.store.write(removeOps(ctx, vm2, pmRow(ctx, vm2.pmId), now2, userOrigin(buyer), ''))
  })
}

const DRAINED = {
  origin: 'hub',
  why: ': its provider machine was withdrawn and the drain deadline passed',
  stopWhy: ': its provider machine is withdrawn',
}

/** A draining provider's deadline passed, or its provider evicts it for unpaid storage (unpaid.ts):
 *  stop the machine if running, then delete it. */
export async function evict(
  ctx: Ctx,
  vmId: string,
  reason: { origin: string; why: string; stopWhy?: string } = DRAINED,
): Promise<boolean> {
  const vm0 = ctx.store.get('vm', vmId)
  if (!vm0 || vm0.state === 'migrating' || ctx.locks.has(vmId)) return false
  return withVmLock(ctx, vmId, async () => {
    let vm = ctx.store.get('vm', vmId)!
    if (vm.state === 'started') {
      const version = await askProvider(ctx, pmRow(ctx, vm.pmId), vm, 'vm.stop', { version: vm.version })
      vm = ctx.store.get('vm', vmId)! // re-read after the await (billing may have charged it)
      const { ops } = transitionOps(
        ctx,
        vm,
        pmRow(ctx, vm.pmId),
        'stop',
        version,
        ctx.clock(),
        reason.origin,
        reason.stopWhy ?? reason.why,
      )
      await ctx.store.write(ops)
      vm = ctx.store.get('vm', vmId)!
    }
    await askProvider(ctx, pmRow(ctx, vm.pmId), vm, 'vm.delete', {})
    vm = ctx.store.get('vm', vmId)!
    await ctx.store.write(removeOps(ctx, vm, pmRow(ctx, vm.pmId), ctx.clock(), reason.origin, reason.why))
    return true
  })
}
