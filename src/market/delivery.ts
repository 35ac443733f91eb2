// Delivering a machine's catalog image at store (report §6.3.1: the front-end copies the
// preconfiguration to the provider and the machine shows `migrating` meanwhile). The store rule
// (lifecycle.ts) calls these while it holds the machine's lock:
//   begin     machine -> 'migrating' with a `delivery` record (nothing reserved, nothing charged)
//   fetch     the provider pulls the image over blocks@1 from the image's servers, reporting progress
//             (node.progress -> `progress`), verified and cached there; it then joins the servers
//   revert    any failure: back to 'registered', the delivery record dropped, nothing charged
//   settled   the row as the store's final batch should see it (the state it came from)
import type { Ctx } from './context.ts'
import { VirtuosoError, errorInfo } from '../errors.ts'
import { errors } from './errors.ts'
import { eventOp } from './events.ts'
import { HUB_SERVER, serverOps } from './images.ts'
import type { Identity, PmRow, VmRow } from './types.ts'

/** No progress from the provider for this long = its sources are gone; its own stall watch fires first. */
export const DELIVERY_TIMEOUT_MS = 6 * 3600_000

/** Marks the machine as receiving its image on `pm`. Returns false when it has no image to deliver. */
export async function beginDelivery(ctx: Ctx, who: Identity, vmId: string, pm: PmRow): Promise<boolean> {
  const vm = ctx.store.get('vm', vmId)!
  if (!vm.image || !vm.imageDigest) return false
  const img = ctx.store.get('images', vm.image)
  if (!img || img.digest !== vm.imageDigest)
    throw errors.notFound('image', `${vm.image} with digest ${vm.imageDigest.slice(0, 12)}… (it was withdrawn)`)
  const now = ctx.clock()
  await ctx.store.write([
    {
      type: 'put',
      table: 'vm',
      key: vm.id,
      value: {
        ...vm,
        state: 'migrating',
        prevState: 'registered',
        delivery: { pmId: pm.id, image: img.name, bytesDone: 0, bytesTotal: img.size, started: now },
      } satisfies VmRow,
    },
    eventOp(now, {
      origin: `user:${who.username}`,
      type: 'vm.deliver',
      message: `delivering image ${img.name} to ${pm.name} for ${vm.name}`,
      users: [vm.owner, pm.owner],
      vmId: vm.id,
      pmId: pm.id,
    }),
  ])
  return true
}

/** The provider pulls the image into its cache; resolves when it holds a verified copy. */
export async function fetchImage(ctx: Ctx, vmId: string, pm: PmRow): Promise<NonNullable<VmRow['delivered']>> {
  const vm = ctx.store.get('vm', vmId)!
  const img = ctx.store.get('images', vm.image!)!
  const sources = img.servers.filter((s) => s !== pm.nodeKey && (s === HUB_SERVER || ctx.gateway.online(s)))
  if (!ctx.gateway.online(pm.nodeKey)) throw errors.providerOffline(pm.id)
  let res: { bytes?: number; bySource?: Record<string, number> }
  const t0 = ctx.clock()
  try {
    res = await ctx.gateway.command(
      pm.nodeKey,
      'image.fetch',
      { vmId, hd: vm.hd, name: img.name, digest: img.digest, size: img.size, sources },
      { timeoutMs: DELIVERY_TIMEOUT_MS },
    )
  } catch (err) {
    if (!ctx.gateway.online(pm.nodeKey)) throw errors.providerOffline(pm.id)
    // The provider's code (VMMP_CORRUPT, VMMP_NO_SPACE, VMMP_STALLED, …) is the one the buyer acts on.
    const { code, message } = errorInfo(err)
    throw new VirtuosoError(
      code,
      `image ${img.name} could not be delivered to ${pm.name}: ${message}; nothing was charged`,
      { cause: err },
    )
  }
  const now = ctx.clock()
  const cur = ctx.store.get('vm', vmId)!
  await ctx.store.write([
    ...serverOps(ctx, img.name, pm.nodeKey),
    ...(cur.delivery
      ? [
          {
            type: 'patch' as const,
            table: 'vm' as const,
            key: vmId,
            fields: { delivery: { ...cur.delivery, bytesDone: cur.delivery.bytesTotal } },
          },
        ]
      : []),
    eventOp(now, {
      origin: 'hub',
      type: 'vm.delivered',
      message: `image ${img.name} is on ${pm.name} (${res.bytes ?? 0} bytes moved)`,
      users: [vm.owner, pm.owner],
      vmId,
      pmId: pm.id,
    }),
  ])
  return { image: img.name, bytes: res.bytes ?? 0, bySource: res.bySource ?? {}, ms: now - t0 }
}

/** node.progress from the provider a machine is being delivered to: cheap field patches, throttled there. */
export async function deliveryProgress(
  ctx: Ctx,
  nodeKey: string,
  p: { vmId?: unknown; done?: unknown; total?: unknown },
): Promise<{ ok: boolean }> {
  const vm = typeof p.vmId === 'string' ? ctx.store.get('vm', p.vmId) : undefined
  const d = vm?.delivery
  const pm = d ? ctx.store.get('pm', d.pmId) : undefined
  if (!vm || !d || !pm || pm.nodeKey !== nodeKey || vm.state !== 'migrating') return { ok: false }
  const done = Number.isSafeInteger(p.done) ? (p.done as number) : d.bytesDone
  const total = Number.isSafeInteger(p.total) && (p.total as number) > 0 ? (p.total as number) : d.bytesTotal
  await ctx.store.write([
    { type: 'patch', table: 'vm', key: vm.id, fields: { delivery: { ...d, bytesDone: done, bytesTotal: total } } },
  ])
  return { ok: true }
}

/** Back to 'registered' after a failed delivery or store: nothing was charged, nothing reserved. */
export async function revertDelivery(ctx: Ctx, vmId: string, err: unknown): Promise<void> {
  const vm = ctx.store.get('vm', vmId)
  if (!vm || !vm.delivery) return
  const pm = ctx.store.get('pm', vm.delivery.pmId)
  const now = ctx.clock()
  await ctx.store.write([
    { type: 'put', table: 'vm', key: vmId, value: settled(vm) },
    eventOp(now, {
      origin: 'hub',
      type: 'vm.deliver.failed',
      message: `store of ${vm.name} failed while delivering image ${vm.delivery.image}: ${errorInfo(err).message}`,
      users: pm ? [vm.owner, pm.owner] : [vm.owner],
      vmId,
      pmId: vm.delivery.pmId,
    }),
  ])
}

/** The row without its delivery: the state it had before (registered). */
export function settled(vm: VmRow): VmRow {
  if (!vm.delivery) return vm
  return { ...vm, state: vm.prevState ?? 'registered', prevState: null, delivery: null }
}

/** After a hub restart no delivery is running: every machine left 'migrating' by one goes back. */
export async function revertStaleDeliveries(ctx: Ctx): Promise<number> {
  const stale = [...ctx.store.values('vm')].filter((vm) => vm.delivery && !ctx.locks.has(vm.id))
  for (const vm of stale) await revertDelivery(ctx, vm.id, new Error('the hub restarted during the delivery'))
  return stale.length
}
