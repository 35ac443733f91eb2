// Who may talk to the hub as a node (issue 11, items 4 and 8). A key bound to a provider machine by
// a pairing may always say hello. An unbound key gets ONE pairing window: its first hello records
// its pairing code's hash and opens the window for PAIRING_WINDOW_MS; hellos within the window
// refresh the connection but cannot change the code (no trying codes through many hellos) and write
// no event (no log flood). After the window a new hello opens a new one. At most MAX_UNBOUND_NODES
// windows are open at once, so keys made up in bulk cannot grow the nodes table without bound.
// A provider typing codes into `pm add` gets MAX_PAIRING_FAILURES wrong ones per PAIRING_WINDOW_MS.
import type { Ctx } from './context.ts'
import { errors, marketError, MARKET_BUSY } from './errors.ts'
import type { NodeRow } from './rows.ts'
import type { Op } from './store.ts'

export const PAIRING_WINDOW_MS = 10 * 60_000
export const MAX_UNBOUND_NODES = 256
export const MAX_PAIRING_FAILURES = 20

const failures = new WeakMap<Ctx, Map<string, { count: number; since: number }>>()

export function windowOpen(row: NodeRow | undefined, now: number): boolean {
  return !!row && row.pmId === null && typeof row.pairingUntil === 'number' && row.pairingUntil > now
}

/** Ops dropping unbound nodes whose window closed (they come back with a new hello). */
export function expiredUnbound(ctx: Ctx, now: number): Op[] {
  const ops: Op[] = []
  for (const n of ctx.store.values('nodes'))
    if (n.pmId === null && !n.online && !windowOpen(n, now)) ops.push({ type: 'del', table: 'nodes', key: n.nodeKey })
  return ops
}

/** Refuses a new window when too many are open. */
export function checkRoomForWindow(ctx: Ctx, now: number): void {
  let open = 0
  for (const n of ctx.store.values('nodes')) if (windowOpen(n, now)) open++
  if (open >= MAX_UNBOUND_NODES)
    throw marketError(MARKET_BUSY, `the hub has ${open} nodes waiting to be paired; try again in a few minutes`)
}

/** Counts a wrong pairing code; refuses once a provider has typed too many. */
export function checkPairingAttempts(ctx: Ctx, username: string, now: number): void {
  const f = failures.get(ctx)?.get(username)
  if (f && now - f.since < PAIRING_WINDOW_MS && f.count >= MAX_PAIRING_FAILURES)
    throw marketError(
      MARKET_BUSY,
      `${f.count} wrong pairing codes in a row; wait ${Math.ceil((f.since + PAIRING_WINDOW_MS - now) / 60_000)} min`,
    )
}

export function pairingFailed(ctx: Ctx, username: string, now: number): ReturnType<typeof errors.pairingInvalid> {
  let m = failures.get(ctx)
  if (!m) failures.set(ctx, (m = new Map()))
  const f = m.get(username)
  if (!f || now - f.since >= PAIRING_WINDOW_MS) m.set(username, { count: 1, since: now })
  else f.count++
  return errors.pairingInvalid()
}

export function pairingSucceeded(ctx: Ctx, username: string): void {
  failures.get(ctx)?.delete(username)
}
