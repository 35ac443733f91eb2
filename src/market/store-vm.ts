// Storing a machine on a provider (report §6.1.7): the room, the funds and the drain are checked,
// the provider creates it (a catalog image travels first, delivery.ts), and the checks run again
// after that await; then ONE batch fixes its prices, charges the first storage period, takes the
// room and logs an event. A store refused after the provider created the copy removes that copy.
import type { Ctx } from './context.ts'
import { hvConfig } from './networks.ts'
import { ownVm, requireBuyer, withVmLock } from './context.ts'
import { errors } from './errors.ts'
import { eventOp, userOrigin } from './events.ts'
import { formatMoney, freshBilling, placedRates, quote } from './pricing.ts'
import { roomOp } from './room.ts'
import { roomProblem } from './search.ts'
import { requireAction } from './statusrelations.ts'
import type { Op } from './store.ts'
import type { Identity, PmRow, VmRow } from './types.ts'
import { Wallet } from './wallet.ts'
import { beginDelivery, fetchImage, revertDelivery, settled } from './delivery.ts'

import { askProvider } from './provider-call.ts'

export async function storeVm(ctx: Ctx, who: Identity | null, vmId: string, pmId: string): Promise<VmRow> {
  const buyer = requireBuyer(who, 'store')
  const vm0 = ownVm(ctx, buyer, vmId)
  requireAction(vm0.state, 'store')
  const pm0 = typeof pmId === 'string' ? ctx.store.get('pm', pmId) : undefined
  if (!pm0) throw errors.notFound('provider machine', String(pmId))
  return withVmLock(ctx, vmId, async () => {
    const check = (vm: VmRow, pm: PmRow) => {
      requireAction(vm.state, 'store')
      if (pm.drainUntil !== null) throw errors.noRoom(pm.id, 'it is being withdrawn from the market')
      const why = roomProblem(pm, vm)
      if (why) throw errors.noRoom(pm.id, why)
      const q = quote(pm, vm)
      const balance = ctx.store.get('users', vm.owner)!.balance
      if (balance < q.storagePrice)
        throw errors.insufficientFunds('store it there', formatMoney(q.storagePrice), formatMoney(balance))
      return q
    }
    check(vm0, pm0)
    const config = hvConfig(ctx, vm0)
    // A machine with a catalog image shows 'migrating' while the image travels (delivery.ts).
    const delivering = await beginDelivery(ctx, buyer, vmId, pm0)
    let version: number
    let delivered: VmRow['delivered'] = null
    try {
      if (delivering) delivered = await fetchImage(ctx, vmId, pm0)
      const image = delivering ? { image: { digest: vm0.imageDigest } } : {}
      version = await askProvider(ctx, pm0, vm0, 'vm.create', { config, version: vm0.version, ...image })
    } catch (err) {
      if (delivering) await revertDelivery(ctx, vmId, err)
      throw err
    }
    const vmNow = ctx.store.get('vm', vmId)
    const vm = vmNow && settled(vmNow)
    const pm = ctx.store.get('pm', pmId)
    let q
    try {
      if (!vm || !pm) throw errors.notFound('machine', vmId)
      q = check(vm, pm) // prices are fixed now, at the moment of storing (report §5.2.3)
    } catch (err) {
      // Lost a race (room, funds, an edit): the provider's copy must not outlive the refusal.
      await ctx.gateway.command(pm0.nodeKey, 'vm.delete', { vmId }).catch((e) =>
        ctx.store.write([
          eventOp(ctx.clock(), {
            origin: 'hub',
            type: 'vm.orphan',
            message:
              `the store of ${vm0.name} was refused after ${pm0.name} created it, and removing that copy ` +
              `failed (${(e as Error).message}); delete machine ${vmId} on the node`,
            users: [pm0.owner],
            vmId,
            pmId: pm0.id,
          }),
        ]),
      )
      if (delivering) await revertDelivery(ctx, vmId, err)
      throw err
    }
    const now = ctx.clock()
    const wallet = new Wallet(ctx.store)
    const stored: VmRow = {
      ...vm,
      state: 'stored',
      version,
      pmId: pm.id,
      ...placedRates(q),
      ...freshBilling(now),
      chargedStorage: vm.chargedStorage + q.storagePrice,
      ...(delivered ? { delivered } : {}),
    }
    const ops: Op[] = []
    if (q.storagePrice > 0) ops.push(wallet.transfer('storage', now, vm.owner, pm.owner, q.storagePrice, vm.id, pm.id))
    ops.push(
      { type: 'put', table: 'vm', key: vm.id, value: stored },
      { type: 'put', table: 'pairings', key: vm.id, value: { vmId: vm.id, pmId: pm.id } },
      ...roomOp(ctx, pm.id, vm, 1),
      ...wallet.flush(),
      eventOp(now, {
        origin: userOrigin(buyer),
        type: 'vm.store',
        message:
          `stored ${vm.name} on ${pm.name} (${formatMoney(q.storagePrice)} per ${q.storagePeriod} s ` +
          `storage, ${formatMoney(q.runningPrice)} per ${q.runningPeriod} s running)`,
        users: [vm.owner, pm.owner],
        vmId: vm.id,
        pmId: pm.id,
      }),
    )
    await ctx.store.write(ops)
    return stored
  })
}
