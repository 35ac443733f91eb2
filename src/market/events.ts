// The event log (report §6.1.10): every important event of hub and providers, in order, with its
// origin and the users it concerns. Events ride in the same batch as the change they describe,
// so the log never tells of something that did not happen.
import type { Op } from './store.ts'
import type { Ctx } from './context.ts'
import type { EventRow, Identity } from './types.ts'

/** An event as raised: the store gives it its sequence number and time. */
export type EventInput = Omit<EventRow, 'seq' | 'time'>

export function eventOp(time: number, e: EventInput): Op {
  const value: Record<string, unknown> = {
    seq: 0,
    time,
    origin: e.origin,
    type: e.type,
    message: e.message,
    users: [...new Set(e.users)],
  }
  if (e.vmId) value.vmId = e.vmId
  if (e.pmId) value.pmId = e.pmId
  return { type: 'append', table: 'events', value }
}

export const userOrigin = (who: Identity) => `user:${who.username}`
export const nodeOrigin = (nodeKey: string) => `node:${nodeKey.slice(0, 8)}`

/** Events naming this user, oldest first, after `after` (a seq), at most `limit` (the newest ones). */
export async function listEvents(
  ctx: Ctx,
  who: Identity | null,
  opts: { after?: number; limit?: number } = {},
): Promise<EventRow[]> {
  const out: EventRow[] = []
  const after = opts.after ?? 0
  await ctx.store.scan('events', (e) => {
    if (e.seq > after && (who === null || e.users.includes(who.username))) out.push(e)
  })
  return opts.limit !== undefined && out.length > opts.limit ? out.slice(out.length - opts.limit) : out
}
