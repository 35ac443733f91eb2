// Billing (report §5.1, §6.1.9). Storage is charged at the START of each storage period, from the
// moment of storing; running at the start of each running period, only while started. Nothing is
// rounded: a machine stopped mid-period keeps the paid remainder (runningCredit, ms) and uses it
// first when started again. Each charge is one ledger entry that debits the buyer and credits the
// provider in the same batch, stamped with the start time of its own period, so a pass run late
// (after a restart or a long pause) charges every elapsed period exactly once, in time order.
//
// When the balance cannot cover a running period the machine is suspended (nothing is lost): the
// pass returns it in `toSuspend` and Market asks the provider. An uncovered storage period becomes
// storageDebt, which blocks start and migrate and is paid first when funds arrive.
import type { Ctx } from './context.ts'
import type { Op } from './store.ts'
import type { VmRow } from './types.ts'
import { Wallet } from './wallet.ts'

/** Machines charged per batch: bounds one batch's size while keeping syncs few. */
export const BILLING_CHUNK = 10_000

export interface AccrueResult {
  ops: Op[]
  suspendAt: number | null
}

/**
 * Brings one machine's charges up to `now`. Mutates `vm` (pass a copy) and `wallet`; returns the
 * ledger ops. `provider` is the owner of the physical machine it is stored on.
 */
export function accrue(vm: VmRow, now: number, wallet: Wallet, provider: string): AccrueResult {
  const ops: Op[] = []
  let suspendAt: number | null = null
  if (vm.pmId === null || vm.lastDebitedStorage === null) return { ops, suspendAt }
  const pay = (kind: 'storage' | 'running', time: number, amount: number) => {
    if (amount > 0) ops.push(wallet.transfer(kind, time, vm.owner, provider, amount, vm.id, vm.pmId))
    if (kind === 'storage') vm.chargedStorage += amount
    else vm.chargedRunning += amount
  }
  // Old debt first: funds that arrived since belong to it before any new period.
  if (vm.storageDebt > 0) {
    const part = Math.min(wallet.balance(vm.owner), vm.storageDebt)
    if (part > 0) {
      pay('storage', now, part)
      vm.storageDebt -= part
    }
  }
  const sp = vm.storagePeriod * 1000
  const rp = vm.runningPeriod * 1000
  // Storage and running periods are taken in time order, so scarce funds go to whichever came first.
  for (;;) {
    const ts: number = sp > 0 ? vm.lastDebitedStorage! + sp : Infinity
    const tr: number =
      rp > 0 && vm.state === 'started' && vm.runningPaidUntil !== null && suspendAt === null
        ? vm.runningPaidUntil
        : Infinity
    if (Math.min(ts, tr) > now) break
    if (ts <= tr) {
      vm.lastDebitedStorage = ts
      if (vm.storageDebt === 0 && wallet.balance(vm.owner) >= vm.storagePrice) pay('storage', ts, vm.storagePrice)
      else vm.storageDebt += vm.storagePrice
    } else if (wallet.balance(vm.owner) >= vm.runningPrice) {
      pay('running', tr, vm.runningPrice)
      vm.lastDebitedRunning = tr
      vm.runningPaidUntil = tr + rp
    } else {
      suspendAt = tr // runs unpaid from here: the provider is asked to suspend it
    }
  }
  return { ops, suspendAt }
}

/** The fields accrue() changes: a pass writes only these (a 'patch'), not whole rows. */
function billingFields(vm: VmRow): Record<string, unknown> {
  return {
    lastDebitedStorage: vm.lastDebitedStorage,
    lastDebitedRunning: vm.lastDebitedRunning,
    runningPaidUntil: vm.runningPaidUntil,
    runningCredit: vm.runningCredit,
    storageDebt: vm.storageDebt,
    chargedStorage: vm.chargedStorage,
    chargedRunning: vm.chargedRunning,
  }
}

/** Cheap test so a pass over 100,000 machines copies only those with something due. */
function isDue(vm: VmRow, now: number, wallet: Wallet): boolean {
  if (vm.pmId === null || vm.lastDebitedStorage === null) return false
  if (vm.lastDebitedStorage + vm.storagePeriod * 1000 <= now) return true
  if (vm.state === 'started' && vm.runningPaidUntil !== null && vm.runningPaidUntil <= now) return true
  return vm.storageDebt > 0 && wallet.balance(vm.owner) > 0
}

export interface BillingReport {
  charges: number
  amount: number
  machines: number
  toSuspend: string[]
}

/** Idempotent: a second pass at the same `now` finds nothing due. */
export async function billingPass(ctx: Ctx, now: number): Promise<BillingReport> {
  const report: BillingReport = { charges: 0, amount: 0, machines: 0, toSuspend: [] }
  const wallet = new Wallet(ctx.store)
  const writes: Promise<unknown>[] = []
  let ops: Op[] = []
  let inChunk = 0
  const flush = () => {
    if (!ops.length && !wallet.dirty) return
    writes.push(ctx.store.write([...ops, ...wallet.flush()], { sync: true }))
    ops = []
    inChunk = 0
  }
  for (const row of ctx.store.values('vm')) {
    if (!isDue(row, now, wallet)) continue
    const provider = ctx.store.get('pm', row.pmId!)?.owner
    if (!provider) continue
    const vm = { ...row }
    const r = accrue(vm, now, wallet, provider)
    for (const op of r.ops) {
      report.charges++
      report.amount += (op as any).value.amount
    }
    if (r.suspendAt !== null && !ctx.locks.has(vm.id)) report.toSuspend.push(vm.id)
    if (r.ops.length || vm.lastDebitedStorage !== row.lastDebitedStorage || vm.storageDebt !== row.storageDebt) {
      ops.push(...r.ops, { type: 'patch', table: 'vm', key: vm.id, fields: billingFields(vm) })
      report.machines++
      if (++inChunk >= BILLING_CHUNK) flush()
    }
  }
  flush()
  await Promise.all(writes)
  return report
}

/** Pays a user's storage debts from their balance (called when funds arrive). */
export function settleDebtsOps(ctx: Ctx, username: string, wallet: Wallet, now: number): Op[] {
  const ops: Op[] = []
  for (const row of ctx.store.values('vm')) {
    if (row.owner !== username || row.storageDebt <= 0) continue
    const provider = row.pmId ? ctx.store.get('pm', row.pmId)?.owner : undefined
    if (!provider) continue
    const part = Math.min(wallet.balance(username), row.storageDebt)
    if (part <= 0) break
    const vm = { ...row, storageDebt: row.storageDebt - part, chargedStorage: row.chargedStorage + part }
    ops.push(wallet.transfer('storage', now, username, provider, part, vm.id, vm.pmId), {
      type: 'put',
      table: 'vm',
      key: vm.id,
      value: vm,
    })
  }
  return ops
}
