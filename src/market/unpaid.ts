// Unpaid storage (issue 11 item 16). A stored machine whose storage period its buyer cannot pay
// carries storageDebt (billing.ts): start and migrate are refused until it is paid, and funds that
// arrive pay it first. Without more, the provider would store it for nothing, for ever. The policy:
//   1. The first pass that finds the debt marks the machine unpaid (unpaidSince) and warns the buyer
//      and the provider in the event log: how much, and the date from which it may be evicted.
//   2. The grace period is UNPAID_GRACE_PERIODS storage periods, at least UNPAID_GRACE_MIN_MS. When it
//      ends with the debt still there, a second warning says the provider may now evict it.
//   3. Only then may the provider evict it (`evict`, provider only, their own machine): the machine
//      is stopped if running, its disk deleted on the provider, and the debt written off. The hub
//      never evicts by itself, and nothing is deleted before both warnings are in the log.
//   4. Paying the debt at any point ends all of it (a third event says so).
// The dashboard and `virtuoso machines` show the date from which eviction is allowed.
import type { Ctx } from './context.ts'
import { requireProvider } from './context.ts'
import { errors } from './errors.ts'
import { eventOp, userOrigin } from './events.ts'
import { formatMoney } from './pricing.ts'
import type { Op } from './store.ts'
import type { Identity } from './types.ts'
import { evict } from './removal.ts'
import { evictableFrom } from './unpaid-policy.ts'

export { evictableFrom, UNPAID_GRACE_MIN_MS, UNPAID_GRACE_PERIODS } from './unpaid-policy.ts'

const day = (t: number) => `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC`

/** Marks, warns and clears unpaid machines; run after each billing pass. Returns what it did. */
export async function unpaidPass(ctx: Ctx, now: number): Promise<{ warned: number; overdue: number; paid: number }> {
  const out = { warned: 0, overdue: 0, paid: 0 }
  const ops: Op[] = []
  for (const vm of ctx.store.values('vm')) {
    if (vm.pmId === null || ctx.locks.has(vm.id)) continue
    const pm = ctx.store.get('pm', vm.pmId)
    if (!pm) continue
    const users = [vm.owner, pm.owner]
    const at = { vmId: vm.id, pmId: pm.id, users, origin: 'hub' }
    if (vm.storageDebt > 0 && vm.unpaidSince == null) {
      const from = evictableFrom({ unpaidSince: now, storagePeriod: vm.storagePeriod })!
      ops.push(patch(vm.id, { unpaidSince: now, unpaidWarned: 'unpaid' }), {
        ...eventOp(now, {
          ...at,
          type: 'vm.storage-unpaid',
          message:
            `storage of ${vm.name} on ${pm.name} is unpaid (${formatMoney(vm.storageDebt)} owed): add funds by ` +
            `${day(from)}, or from then its provider may evict it and its disk is deleted`,
        }),
      })
      out.warned++
    } else if (vm.storageDebt > 0 && vm.unpaidWarned === 'unpaid' && now >= evictableFrom(vm)!) {
      ops.push(patch(vm.id, { unpaidWarned: 'overdue' }), {
        ...eventOp(now, {
          ...at,
          type: 'vm.storage-overdue',
          message:
            `storage of ${vm.name} on ${pm.name} is still unpaid (${formatMoney(vm.storageDebt)} owed) after the ` +
            `grace period: its provider may now evict it (its disk is deleted); adding funds still keeps it`,
        }),
      })
      out.overdue++
    } else if (vm.storageDebt === 0 && vm.unpaidSince != null) {
      ops.push(patch(vm.id, { unpaidSince: null, unpaidWarned: null }), {
        ...eventOp(now, { ...at, type: 'vm.storage-paid', message: `storage of ${vm.name} is paid again` }),
      })
      out.paid++
    }
  }
  if (ops.length) await ctx.store.write(ops)
  return out
}

function patch(key: string, fields: Record<string, unknown>): Op {
  return { type: 'patch', table: 'vm', key, fields }
}

/** The provider evicts an unpaid machine after both warnings (see above). */
export async function evictUnpaid(ctx: Ctx, who: Identity | null, vmId: string): Promise<{ ok: true }> {
  const provider = requireProvider(who, 'evict')
  const vm = typeof vmId === 'string' ? ctx.store.get('vm', vmId) : undefined
  const pm = vm?.pmId ? ctx.store.get('pm', vm.pmId) : undefined
  // Someone else's machine answers exactly like one that does not exist.
  if (!vm || !pm || pm.owner !== provider.username) throw errors.notFound('machine', String(vmId))
  const from = evictableFrom(vm)
  if (vm.storageDebt === 0 || from === null || vm.unpaidWarned !== 'overdue' || ctx.clock() < from)
    throw errors.actionNotAllowed(
      'evict',
      from === null || vm.storageDebt === 0 ? 'paid up' : `unpaid, in its grace period until ${day(from)}`,
      ['unpaid past the grace period, after both warnings'],
    )
  const done = await evict(ctx, vm.id, {
    origin: userOrigin(provider),
    why: `: evicted by its provider, storage unpaid since ${day(vm.unpaidSince!)}`,
  })
  if (!done) throw errors.busy(vm.id)
  return { ok: true }
}
