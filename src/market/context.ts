// What every rule module works with. Rules are plain functions over a Ctx so each can be tested
// and read on its own; Market (market.ts) builds one Ctx and delegates.
import type { Store } from './store.ts'
import type { ProviderGateway } from './gateway.ts'
import type { Identity, UserRow, VmRow, PmRow } from './types.ts'
import { errors } from './errors.ts'
import type { ScryptCost } from '../scrypt.ts'

export interface Ctx {
  store: Store
  clock: () => number
  gateway: ProviderGateway
  /** VM ids with an action in flight (in-process lock: the hub is the only writer). */
  locks: Set<string>
  sessionTtlMs: number
  /** What new password hashes cost (scryptCost): 2^17 in production, lower in tests only. */
  scrypt: ScryptCost
  /** Machines whose suspend-for-funds failed, by error code: the failure is logged once, not every pass. */
  suspendFailing: Map<string, string>
  /** Problems no caller waits for (a daemon's step failed): the hub logs them. */
  problem: (what: string, err: unknown) => void
}

export function requireBuyer(who: Identity | null, what: string): Identity {
  if (!who) throw errors.authRequired()
  if (who.type !== 'buyer') throw errors.forbidden(what, 'providers')
  return who
}

export function requireProvider(who: Identity | null, what: string): Identity {
  if (!who) throw errors.authRequired()
  if (who.type !== 'provider') throw errors.forbidden(what, 'buyers')
  return who
}

export function requireUser(who: Identity | null): Identity {
  if (!who) throw errors.authRequired()
  return who
}

export function userRow(ctx: Ctx, username: string): UserRow {
  const u = ctx.store.get('users', username)
  if (!u) throw errors.notFound('user', username)
  return u
}

/** A buyer's own machine. Someone else's id answers exactly like one that does not exist. */
export function ownVm(ctx: Ctx, who: Identity, vmId: string): VmRow {
  const vm = typeof vmId === 'string' ? ctx.store.get('vm', vmId) : undefined
  if (!vm || vm.owner !== who.username) throw errors.notFound('machine', String(vmId))
  return vm
}

/** A provider's own physical machine, with the same rule for ids that are not theirs. */
export function ownPm(ctx: Ctx, who: Identity, pmId: string): PmRow {
  const pm = typeof pmId === 'string' ? ctx.store.get('pm', pmId) : undefined
  if (!pm || pm.owner !== who.username) throw errors.notFound('provider machine', String(pmId))
  return pm
}

/** The physical machine a row points at (a stored machine's, a migration's end): it must exist. */
export function pmRow(ctx: Ctx, pmId: string | null): PmRow {
  const pm = pmId ? ctx.store.get('pm', pmId) : undefined
  if (!pm) throw errors.notFound('provider machine', String(pmId))
  return pm
}

/** Runs `fn` holding the machine's lock; a second action meanwhile gets MARKET_BUSY. */
export async function withVmLock<T>(ctx: Ctx, vmId: string, fn: () => Promise<T>): Promise<T> {
  if (ctx.locks.has(vmId)) throw errors.busy(vmId)
  ctx.locks.add(vmId)
  try {
    return await fn()
  } finally {
    ctx.locks.delete(vmId)
  }
}
