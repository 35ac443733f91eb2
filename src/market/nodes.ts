// The provider nodes themselves (table nodes): a node says hello with what it measured (processor,
// bogomips, memory, storage) and, until a provider binds it, the hash of its one-time pairing code;
// it goes offline. Its system events (report §6.1.10) are taken in node-events.ts.
import type { Ctx } from './context.ts'
import { errors } from './errors.ts'
import { eventOp, nodeOrigin } from './events.ts'
import type { NodeInfo, NodeRow } from './rows.ts'
import { checkRoomForWindow, expiredUnbound, PAIRING_WINDOW_MS, windowOpen } from './node-window.ts'

function checkInfo(info: unknown): NodeInfo {
  const i = info as NodeInfo
  if (!i || typeof i !== 'object' || typeof i.processor !== 'string' || i.processor.length > 100)
    throw errors.badInput('info', 'a node must report its processor')
  for (const k of ['bogomips', 'memory', 'storage'] as const) {
    if (typeof i[k] !== 'number' || !Number.isFinite(i[k]) || i[k] < 0)
      throw errors.badInput('info', `a node must report ${k} as a number`)
  }
  return i
}

export async function nodeHello(
  ctx: Ctx,
  nodeKey: string,
  hello: { info: unknown; pairingCodeHash?: string | null },
): Promise<{ pmId: string | null }> {
  if (typeof nodeKey !== 'string' || !/^[0-9a-f]{64}$/.test(nodeKey))
    throw errors.badInput('nodeKey', 'must be 64 hex digits')
  const info = checkInfo(hello.info)
  const hash = hello.pairingCodeHash
  if (hash != null && (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)))
    throw errors.badInput('pairingCodeHash', 'must be 64 hex digits')
  const now = ctx.clock()
  const old = ctx.store.get('nodes', nodeKey)
  const bound = !!old?.pmId
  const inWindow = windowOpen(old, now)
  if (!bound && !inWindow) checkRoomForWindow(ctx, now)
  const row: NodeRow = {
    nodeKey,
    online: true,
    lastSeen: now,
    info,
    // A bound node has used its code; an unbound one keeps the code of its window's first hello.
    pairingCodeHash: bound ? null : inWindow ? old!.pairingCodeHash : (hash ?? null),
    pairingUntil: bound ? null : inWindow ? old!.pairingUntil : now + PAIRING_WINDOW_MS,
    pmId: old?.pmId ?? null,
  }
  const pm = row.pmId ? ctx.store.get('pm', row.pmId) : undefined
  if (!bound && inWindow) {
    // A repeat within the window: the connection is fresh, nothing else is, and nothing is logged.
    await ctx.store.write([{ type: 'put', table: 'nodes', key: nodeKey, value: row }])
    return { pmId: null }
  }
  await ctx.store.write([
    ...expiredUnbound(ctx, now),
    { type: 'put', table: 'nodes', key: nodeKey, value: row },
    eventOp(now, {
      origin: nodeOrigin(nodeKey),
      type: 'node.online',
      message: `node ${nodeKey.slice(0, 8)} online${pm ? ` (${pm.name})` : ', not yet added by a provider'}`,
      users: pm ? [pm.owner] : [],
      pmId: pm?.id,
    }),
  ])
  return { pmId: row.pmId }
}

export async function nodeOffline(ctx: Ctx, nodeKey: string): Promise<void> {
  const old = ctx.store.get('nodes', nodeKey)
  if (!old) return
  const now = ctx.clock()
  const pm = old.pmId ? ctx.store.get('pm', old.pmId) : undefined
  await ctx.store.write([
    { type: 'put', table: 'nodes', key: nodeKey, value: { ...old, online: false, lastSeen: now } },
    eventOp(now, {
      origin: 'hub',
      type: 'node.offline',
      message: `node ${nodeKey.slice(0, 8)} offline${pm ? ` (${pm.name})` : ''}`,
      users: pm ? [pm.owner] : [],
      pmId: pm?.id,
    }),
  ])
}

/** At open: no node is connected yet, so the nodes table must not claim otherwise. */
export async function allOffline(ctx: Ctx): Promise<void> {
  const stale = [...ctx.store.values('nodes')].filter((n) => n.online)
  if (stale.length)
    await ctx.store.write(
      stale.map((n) => ({
        type: 'put' as const,
        table: 'nodes' as const,
        key: n.nodeKey,
        value: { ...n, online: false },
      })),
    )
}

export function nodeBound(ctx: Ctx, nodeKey: string): boolean {
  return !!ctx.store.get('nodes', nodeKey)?.pmId
}
