// Storing a machine on a provider and driving its state (report §6.1.7, §6.3). Every action:
// checks who and the statusrelations table, takes the machine's lock (MARKET_BUSY), asks the
// provider through the gateway, checks the version it answers (§7.1.5), and only then commits,
// in ONE batch, the new state together with the charges it implies and an event.
// Checks done before the await are done again after it: the world may have moved meanwhile.
import type { Ctx } from './context.ts'
import { hvConfig } from './networks.ts'
import { ownVm, requireBuyer, withVmLock } from './context.ts'
import { accrue } from './billing.ts'
import { errors } from './errors.ts'
import { eventOp, userOrigin } from './events.ts'
import { versionAfter } from './gateway.ts'
import { formatMoney, quote } from './pricing.ts'
import { roomOp } from './room.ts'
import { roomProblem } from './search.ts'
import { requireAction } from './statusrelations.ts'
import type { Op } from './store.ts'
import type { Identity, PmRow, VmRow, VmState } from './types.ts'
import { Wallet } from './wallet.ts'
import { beginDelivery, fetchImage, revertDelivery, settled } from './delivery.ts'

/** Asks the provider to act on a machine; checks the version it answers against the hub's. */
export async function command(
  ctx: Ctx,
  pm: PmRow,
  vm: VmRow,
  method: string,
  params: Record<string, unknown>,
): Promise<number> {
  if (!ctx.gateway.online(pm.nodeKey)) throw errors.providerOffline(pm.id)
  let res: any
  try {
    res = await ctx.gateway.command(pm.nodeKey, method, { vmId: vm.id, ...params })
  } catch (err) {
    if (!ctx.gateway.online(pm.nodeKey)) throw errors.providerOffline(pm.id)
    throw errors.providerFailed(method.replace(/^vm\./, ''), vm.id, err)
  }
  if (method === 'vm.delete') return vm.version
  const want = versionAfter(method, vm.version)
  if (res?.version !== want) throw errors.versionMismatch(vm.id, want, res?.version)
  return want
}

function pmOf(ctx: Ctx, vm: VmRow): PmRow {
  const pm = vm.pmId ? ctx.store.get('pm', vm.pmId) : undefined
  if (!pm) throw errors.notFound('provider machine', String(vm.pmId))
  return pm
}

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
      version = await command(ctx, pm0, vm0, 'vm.create', { config, version: vm0.version, ...image })
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
      storagePrice: q.storagePrice,
      storagePeriod: q.storagePeriod,
      runningPrice: q.runningPrice,
      runningPeriod: q.runningPeriod,
      lastDebitedStorage: now,
      lastDebitedRunning: null,
      runningCredit: 0,
      runningPaidUntil: null,
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

/** What the provider's first-boot seed tells the guest: a host name made from the machine's name. */
export function guestSetup(vm: VmRow): { hostname: string; sshKeys: string[] } {
  const host = vm.name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '')
  return { hostname: host || `vm-${vm.id.slice(0, 8)}`, sshKeys: vm.sshKeys ?? [] }
}

type StateAction = 'start' | 'stop' | 'suspend' | 'resume'
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
    const pm = pmOf(ctx, vm)
    if (action === 'start' || action === 'resume') checkCanRun(ctx, vm, pm, ctx.clock())
    // A machine learns its name and its owner's keys at boot (the provider's first-boot seed).
    const params = action === 'start' || action === 'resume' ? { version: vm.version, guest: guestSetup(vm) } : {}
    const version = await command(ctx, pm, vm, METHOD[action], { version: vm.version, ...params })
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
    const pm = pmOf(ctx, vm)
    let version: number
    try {
      version = await command(ctx, pm, vm, 'vm.suspend', { version: vm.version })
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

/** Ops that remove a stored machine from the market: frees its room and pairing. Debt is written off. */
function removeOps(ctx: Ctx, vm0: VmRow, pm: PmRow, now: number, origin: string, why: string): Op[] {
  const vm = { ...vm0 }
  const wallet = new Wallet(ctx.store)
  const { ops } = accrue(vm, now, wallet, pm.owner) // periods begun before now are owed
  ops.push(
    { type: 'del', table: 'vm', key: vm.id },
    { type: 'del', table: 'pairings', key: vm.id },
    ...roomOp(ctx, pm.id, vm, -1),
    ...wallet.flush(),
    eventOp(now, {
      origin,
      type: 'vm.delete',
      message:
        `deleted ${vm.name} from ` +
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
    await command(ctx, pmOf(ctx, vm), vm, 'vm.delete', {})
    // Re-read after the await: billing may have charged the machine and others changed the pm meanwhile.
    const now2 = ctx.clock()
    const vm2 = ctx.store.get('vm', vmId)!
    await ctx.store.write(removeOps(ctx, vm2, pmOf(ctx, vm2), now2, userOrigin(buyer), ''))
  })
}

/** A draining provider's deadline passed: stop the machine if running, then delete it. */
export async function evict(ctx: Ctx, vmId: string): Promise<boolean> {
  const vm0 = ctx.store.get('vm', vmId)
  if (!vm0 || vm0.state === 'migrating' || ctx.locks.has(vmId)) return false
  return withVmLock(ctx, vmId, async () => {
    let vm = ctx.store.get('vm', vmId)!
    if (vm.state === 'started') {
      const version = await command(ctx, pmOf(ctx, vm), vm, 'vm.stop', { version: vm.version })
      vm = ctx.store.get('vm', vmId)! // re-read after the await (billing may have charged it)
      const { ops } = transitionOps(
        ctx,
        vm,
        pmOf(ctx, vm),
        'stop',
        version,
        ctx.clock(),
        'hub',
        ': its provider machine is withdrawn',
      )
      await ctx.store.write(ops)
      vm = ctx.store.get('vm', vmId)!
    }
    await command(ctx, pmOf(ctx, vm), vm, 'vm.delete', {})
    vm = ctx.store.get('vm', vmId)!
    const why = ': its provider machine was withdrawn and the drain deadline passed'
    await ctx.store.write(removeOps(ctx, vm, pmOf(ctx, vm), ctx.clock(), 'hub', why))
    return true
  })
}
