// Driving a stored machine's state (report §6.1.7, §6.3): start, stop, suspend, resume, and billing's
// suspend for lack of funds. Every action: checks who and the statusrelations table, takes the
// machine's lock (MARKET_BUSY), asks the provider (provider-call.ts), and only then commits, in ONE
// batch, the new state together with the charges it implies and an event. Storing is store-vm.ts,
// deleting removal.ts.
// Checks done before the await are done again after it: the world may have moved meanwhile.
import type { Ctx } from './context.ts'
import { ownVm, pmRow, requireBuyer, withVmLock } from './context.ts'
import { accrue } from './billing.ts'
import { errors } from './errors.ts'
import { eventOp, userOrigin } from './events.ts'
import { askProvider } from './provider-call.ts'
import { formatMoney } from './pricing.ts'
import { requireAction } from './statusrelations.ts'
import type { Op } from './store.ts'
import type { Identity, PmRow, VmRow, VmState } from './types.ts'
import { Wallet } from './wallet.ts'

/** What the provider's first-boot seed tells the guest: a host name made from the machine's name. */
export function guestSetup(
  vm: VmRow,
  privateKey?: string,
): { hostname: string; sshKeys: string[]; hostKey?: { public: string; private: string } } {
  const host = vm.name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '')
  return {
    hostname: host || `vm-${vm.id.slice(0, 8)}`,
    sshKeys: vm.sshKeys ?? [],
    ...(vm.hostKey && privateKey ? { hostKey: { public: vm.hostKey, private: privateKey } } : {}),
  }
}

export type StateAction = 'start' | 'stop' | 'suspend' | 'resume'
const METHOD: Record<StateAction, string> = {
  start: 'vm.start',
  stop: 'vm.stop',
  suspend: 'vm.suspend',
  resume: 'vm.resume',
}
const TARGET: Record<StateAction, VmState> = {
  start: 'started',
  stop: 'stopped',
  suspend: 'suspended',
  resume: 'started',
}

/** Refuses start/resume that billing would not allow: storage debt, or no money for a first period. */
function checkCanRun(ctx: Ctx, vm: VmRow, pm: PmRow, now: number): void {
  const preview = { ...vm }
  const wallet = new Wallet(ctx.store)
  accrue(preview, now, wallet, pm.owner)
  if (preview.storageDebt > 0) throw errors.storageDebt(vm.id, formatMoney(preview.storageDebt))
  const balance = wallet.balance(vm.owner)
  if (preview.runningCredit === 0 && balance < vm.runningPrice) {
    throw errors.insufficientFunds(
      'start it',
      `${formatMoney(vm.runningPrice)} per ${vm.runningPeriod} s`,
      formatMoney(balance),
    )
  }
}

/** The state change itself, with the charges up to `now`: one batch's ops. */
export function transitionOps(
  ctx: Ctx,
  vm0: VmRow,
  pm: PmRow,
  action: StateAction,
  version: number,
  now: number,
  origin: string,
  note = '',
  eventType = `vm.${action}`,
): { ops: Op[]; vm: VmRow } {
  const vm = { ...vm0 }
  const wallet = new Wallet(ctx.store)
  const { ops } = accrue(vm, now, wallet, pm.owner)
  if (action === 'start' || action === 'resume') {
    if (vm.runningCredit > 0) {
      vm.runningPaidUntil = now + vm.runningCredit // the unused remainder first: no rounding
      vm.runningCredit = 0
    } else if (wallet.balance(vm.owner) >= vm.runningPrice) {
      if (vm.runningPrice > 0)
        ops.push(wallet.transfer('running', now, vm.owner, pm.owner, vm.runningPrice, vm.id, pm.id))
      vm.chargedRunning += vm.runningPrice
      vm.lastDebitedRunning = now
      vm.runningPaidUntil = now + vm.runningPeriod * 1000
    } else {
      vm.runningPaidUntil = now // the balance fell meanwhile: the next billing pass suspends it
    }
  } else {
    vm.runningCredit = vm.runningPaidUntil !== null ? Math.max(0, vm.runningPaidUntil - now) : vm.runningCredit
    vm.runningPaidUntil = null
  }
  vm.state = TARGET[action]
  vm.version = version
  ops.push(
    { type: 'put', table: 'vm', key: vm.id, value: vm },
    ...wallet.flush(),
    eventOp(now, {
      origin,
      type: eventType,
      message: `${action} ${vm.name} on ${pm.name} (version ${version})${note}`,
      users: [vm.owner, pm.owner],
      vmId: vm.id,
      pmId: pm.id,
    }),
  )
  return { ops, vm }
}

export async function act(ctx: Ctx, who: Identity | null, vmId: string, action: StateAction): Promise<VmRow> {
  const buyer = requireBuyer(who, action)
  const vm0 = ownVm(ctx, buyer, vmId)
  requireAction(vm0.state, action)
  return withVmLock(ctx, vmId, async () => {
    const vm = ctx.store.get('vm', vmId)!
    requireAction(vm.state, action)
    const pm = pmRow(ctx, vm.pmId)
    if (action === 'start' || action === 'resume') checkCanRun(ctx, vm, pm, ctx.clock())
    // A machine learns its name and its owner's keys at boot (the provider's first-boot seed).
    const params =
      action === 'start' || action === 'resume'
        ? { version: vm.version, guest: guestSetup(vm, ctx.store.get('hostkeys', vm.id)?.private) }
        : {}
    const version = await askProvider(ctx, pm, vm, METHOD[action], { version: vm.version, ...params })
    const now = ctx.clock()
    const { ops, vm: next } = transitionOps(
      ctx,
      ctx.store.get('vm', vmId)!,
      pm,
      action,
      version,
      now,
      userOrigin(buyer),
    )
    await ctx.store.write(ops)
    return next
  })
}

/** Billing's answer to a running period nobody can pay: suspend, nothing lost. Skips a busy machine. */
export async function suspendForFunds(ctx: Ctx, vmId: string): Promise<boolean> {
  const vm0 = ctx.store.get('vm', vmId)
  if (!vm0 || vm0.state !== 'started' || ctx.locks.has(vmId)) return false
  return withVmLock(ctx, vmId, async () => {
    const vm = ctx.store.get('vm', vmId)!
    const pm = pmRow(ctx, vm.pmId)
    let version: number
    try {
      version = await askProvider(ctx, pm, vm, 'vm.suspend', { version: vm.version })
    } catch (err) {
      // Logged once per cause, not at every billing pass while the provider stays offline.
      const code = (err as { code?: string }).code ?? 'ERROR'
      if (ctx.suspendFailing.get(vmId) === code) return false
      ctx.suspendFailing.set(vmId, code)
      await ctx.store.write([
        eventOp(ctx.clock(), {
          origin: 'hub',
          type: 'vm.suspend.failed',
          message: `could not suspend ${vm.name} for lack of funds: ${(err as Error).message}; will retry`,
          users: [vm.owner, pm.owner],
          vmId,
          pmId: pm.id,
        }),
      ])
      return false
    }
    ctx.suspendFailing.delete(vmId)
    const { ops } = transitionOps(
      ctx,
      ctx.store.get('vm', vmId)!,
      pm,
      'suspend',
      version,
      ctx.clock(),
      'hub',
      ': the balance cannot cover the next running period; credit the account and resume',
    )
    await ctx.store.write(ops)
    return true
  })
}
