// A provider system event (report §6.1.10) as the hub takes it into the event log. Events come from
// the provider's local log (src/provider/event-log.ts) with its epoch and a sequence number: one the
// hub has already taken (its answer was lost, the provider sent it again) is acknowledged and not
// logged twice, and the log keeps the provider's order. Only the node's own machines are named to
// users: an event about another provider's machine reaches the provider alone.
import type { Ctx } from './context.ts'
import { errors } from './errors.ts'
import { eventOp, nodeOrigin } from './events.ts'

/** An event logged later than this after the provider saw it says when it happened. */
export const LATE_MS = 5000

interface Seen {
  epoch: string
  seq: number
}
const seenKey = (nodeKey: string) => `node-events:${nodeKey}`

export async function nodeEvent(
  ctx: Ctx,
  nodeKey: string,
  e: { type?: unknown; message?: unknown; vmId?: unknown; seq?: unknown; epoch?: unknown; at?: unknown },
): Promise<{ ok: true; duplicate?: true }> {
  if (typeof e?.type !== 'string' || !/^[a-z0-9._-]{1,64}$/.test(e.type))
    throw errors.badInput('type', 'an event needs a short type such as vm.crashed')
  if (typeof e.message !== 'string' || e.message.length > 1000)
    throw errors.badInput('message', 'an event needs a message of at most 1000 characters')
  const numbered = e.seq !== undefined || e.epoch !== undefined
  if (numbered && (!Number.isSafeInteger(e.seq) || (e.seq as number) < 1))
    throw errors.badInput('seq', 'must be a whole number from 1')
  if (numbered && (typeof e.epoch !== 'string' || !/^[0-9a-f]{1,64}$/.test(e.epoch)))
    throw errors.badInput('epoch', 'must be up to 64 hex digits')
  if (e.at !== undefined && !Number.isSafeInteger(e.at)) throw errors.badInput('at', 'must be a time in ms')
  const seen = ctx.store.get('meta', seenKey(nodeKey)) as Seen | undefined
  // A new epoch (the provider's log was made anew) starts its numbering over.
  if (numbered && seen && seen.epoch === e.epoch && (e.seq as number) <= seen.seq) return { ok: true, duplicate: true }
  const node = ctx.store.get('nodes', nodeKey)
  const pm = node?.pmId ? ctx.store.get('pm', node.pmId) : undefined
  const users: string[] = pm ? [pm.owner] : []
  let vmId: string | undefined
  if (typeof e.vmId === 'string') {
    const vm = ctx.store.get('vm', e.vmId)
    if (vm && pm && vm.pmId === pm.id) {
      users.push(vm.owner)
      vmId = vm.id
    }
  }
  const now = ctx.clock()
  const at = e.at as number | undefined
  const late = at !== undefined && now - at > LATE_MS ? ` (seen by the provider at ${new Date(at).toISOString()})` : ''
  await ctx.store.write([
    eventOp(now, {
      origin: nodeOrigin(nodeKey),
      type: `node.${e.type}`,
      message: e.message + late,
      users,
      vmId,
      pmId: pm?.id,
    }),
    ...(numbered
      ? [{ type: 'put' as const, table: 'meta' as const, key: seenKey(nodeKey), value: { epoch: e.epoch, seq: e.seq } }]
      : []),
  ])
  return { ok: true }
}
