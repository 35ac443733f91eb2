// A machine whose own node no longer holds it (reconcile.ts: its disk is gone, or a delete's answer
// was lost). The market drops it, but that is not the buyer's deletion: the event is 'vm.lost', not
// 'vm.delete', so the stray rule (strays.ts) never removes another copy because of it, and the row is
// kept (hub-only, in `meta`) so that a copy another node still holds, say the origin's copy of a
// migration whose release never took effect, is taken back: the machine is placed on that node at
// that copy's version, and the log says what was lost. The version rule (report §7.1.5: market and
// node never disagree on a machine's version) makes the copy's version the machine's version again.
// A buyer's only remaining copy is never removed; at worst it comes back and the buyer deletes it.
import type { Ctx } from './context.ts'
import { eventOp } from './events.ts'
import { freshBilling, placedRates, quote } from './pricing.ts'
import { removeOps } from './removal.ts'
import { roomOp } from './room.ts'
import type { Op } from './store.ts'
import type { PmRow, VmRow, VmState } from './types.ts'

const lostKey = (vmId: string) => `lost:${vmId}`

interface LostRecord {
  vm: VmRow
  hostKey: string | null
  /** Where it was lost, and when. */
  pmId: string
  at: number
}

/** A node's copy becomes the machine in this state; a running copy waits until it stops. */
const ADOPTED: Partial<Record<string, VmState>> = { registered: 'stored', stopped: 'stopped', suspended: 'suspended' }

/** Ops that drop a machine its node no longer holds: room freed and debt written off as for a removal,
 *  logged as 'vm.lost', and its row kept so that another node's copy can be taken back. */
export function lostOps(ctx: Ctx, vm: VmRow, pm: PmRow, now: number): Op[] {
  const why =
    ': its provider no longer holds it (its disk is gone, or a delete whose answer was lost); ' +
    'a copy another provider still holds will be taken back'
  const record: LostRecord = { vm, hostKey: ctx.store.get('hostkeys', vm.id)?.private ?? null, pmId: pm.id, at: now }
  return [
    ...removeOps(ctx, vm, pm, now, 'hub', why, 'vm.lost'),
    { type: 'put', table: 'meta', key: lostKey(vm.id), value: record },
  ]
}

/** True if the market lost this machine and could take back a copy of it. */
export const wasLost = (ctx: Ctx, vmId: string): boolean => ctx.store.get('meta', lostKey(vmId)) !== undefined

/** Ops that place a lost machine on `pm` from the copy `h` its node holds, or null if that cannot be
 *  (not lost, already back, or the copy is running). Prices are `pm`'s; storage is charged from now. */
export function readoptOps(ctx: Ctx, pm: PmRow, h: { id: string; state: string; version: number }): Op[] | null {
  const rec = ctx.store.get('meta', lostKey(h.id)) as LostRecord | undefined
  const state = ADOPTED[h.state]
  if (!rec || !state || ctx.store.get('vm', h.id)) return null
  const now = ctx.clock()
  const q = quote(pm, rec.vm)
  const vm: VmRow = {
    ...rec.vm,
    state,
    prevState: null,
    version: h.version,
    pmId: pm.id,
    ...placedRates(q),
    ...freshBilling(now),
    storageDebt: 0,
    unpaidSince: null,
    unpaidWarned: null,
  }
  const behind = rec.vm.version - h.version
  return [
    { type: 'put', table: 'vm', key: vm.id, value: vm },
    { type: 'put', table: 'pairings', key: vm.id, value: { vmId: vm.id, pmId: pm.id } },
    ...(rec.hostKey
      ? [{ type: 'put', table: 'hostkeys', key: vm.id, value: { vmId: vm.id, private: rec.hostKey } }]
      : []),
    ...roomOp(ctx, pm.id, vm, 1),
    { type: 'del', table: 'meta', key: lostKey(vm.id) },
    eventOp(now, {
      origin: 'hub',
      type: 'vm.readopted',
      message:
        `${vm.name} is back, ${state} at version ${h.version}, from the copy ${pm.name} kept; its newer copy ` +
        `(version ${rec.vm.version}) was lost` +
        (behind > 0 ? ` (what changed in the last ${behind} version${behind > 1 ? 's' : ''} is gone)` : ''),
      users: [vm.owner, pm.owner],
      vmId: vm.id,
      pmId: pm.id,
    }),
  ] as Op[]
}
