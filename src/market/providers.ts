// Providers' physical machines (report §5.2, table pmseller) and the nodes that carry them.
// A node says hello with what it measured (processor, bogomips, memory, storage) and the hash of a
// one-time pairing code; `pm add` with that code binds it to the provider's account. The measured
// figures are locked from then on; prices, units, periods and the name may change, never for
// machines already stored (their prices live in their own vm rows).
import { randomUUID } from 'node:crypto'
import type { Ctx } from './context.ts'
import { ownPm, requireProvider } from './context.ts'
import { checkName } from './machines.ts'
import { errors } from './errors.ts'
import { eventOp, nodeOrigin, userOrigin } from './events.ts'
import { evict } from './lifecycle.ts'
import { HOUR_S } from './pricing.ts'
import { hashPairingCode } from './pairing.ts'
import type { NodeInfo, NodeRow } from './rows.ts'
import {
  checkPairingAttempts,
  checkRoomForWindow,
  expiredUnbound,
  pairingFailed,
  pairingSucceeded,
  PAIRING_WINDOW_MS,
  windowOpen,
} from './node-window.ts'
import type { Op } from './store.ts'
import type { Identity, Micro, PmRow } from './types.ts'

export const SHEET_FIELDS = [
  'speedUnit',
  'speedPrice',
  'memoryUnit',
  'memoryPrice',
  'runningPeriod',
  'storageUnit',
  'storagePrice',
  'storagePeriod',
] as const
export type Sheet = Pick<PmRow, (typeof SHEET_FIELDS)[number]>
/** Defaults for a first machine added without `like`: cheap, hourly running, daily storage. */
export const DEFAULT_SHEET: Sheet = {
  speedUnit: 1000,
  speedPrice: 1,
  memoryUnit: 128,
  memoryPrice: 1,
  runningPeriod: 3600,
  storageUnit: 1024,
  storagePrice: 1000,
  storagePeriod: 86_400,
}
const MAX_PERIOD_S = 366 * 86_400

function checkSheet(s: Record<string, unknown>): Sheet {
  const out: Record<string, number> = {}
  for (const f of SHEET_FIELDS) {
    const v = s[f]
    const min = f.endsWith('Price') ? 0 : 1
    const max = f.endsWith('Period') ? MAX_PERIOD_S : Number.MAX_SAFE_INTEGER
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max)
      throw errors.badInput(f, `must be a whole number from ${min} to ${max}`)
    out[f] = v as number
  }
  return out as Sheet
}

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

// --- node side -------------------------------------------------------------------------------

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

/** A provider system event (report §6.1.10). Only the node's own machines are named to users. */
export async function nodeEvent(
  ctx: Ctx,
  nodeKey: string,
  e: { type?: unknown; message?: unknown; vmId?: unknown },
): Promise<{ ok: true }> {
  if (typeof e?.type !== 'string' || !/^[a-z0-9._-]{1,64}$/.test(e.type))
    throw errors.badInput('type', 'an event needs a short type such as vm.crashed')
  if (typeof e.message !== 'string' || e.message.length > 1000)
    throw errors.badInput('message', 'an event needs a message of at most 1000 characters')
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
  await ctx.store.write([
    eventOp(ctx.clock(), {
      origin: nodeOrigin(nodeKey),
      type: `node.${e.type}`,
      message: e.message,
      users,
      vmId,
      pmId: pm?.id,
    }),
  ])
  return { ok: true }
}

// --- provider actions --------------------------------------------------------------------------

export interface PmAddInput extends Partial<Sheet> {
  pairing: string
  name?: string
  like?: string
}

export async function pmAdd(ctx: Ctx, who: Identity | null, input: PmAddInput): Promise<PmRow> {
  const provider = requireProvider(who, 'pm add')
  if (typeof input.pairing !== 'string' || !input.pairing.trim()) throw errors.pairingInvalid()
  const base = input.like !== undefined ? ownPm(ctx, provider, input.like) : undefined
  const sheet = checkSheet({ ...(base ? pick(base) : DEFAULT_SHEET), ...definedOnly(input) })
  const now = ctx.clock()
  checkPairingAttempts(ctx, provider.username, now)
  const hash = hashPairingCode(input.pairing)
  let node: NodeRow | undefined
  for (const n of ctx.store.values('nodes'))
    if (n.pairingCodeHash === hash && windowOpen(n, now)) {
      node = n
      break
    }
  if (!node || !node.info || !ctx.gateway.online(node.nodeKey)) throw pairingFailed(ctx, provider.username, now)
  pairingSucceeded(ctx, provider.username)
  const id = randomUUID()
  const name = input.name !== undefined ? checkName(input.name) : base ? `${base.name}-copy` : `pm-${id.slice(0, 8)}`
  const pm: PmRow = {
    id,
    name,
    owner: provider.username,
    nodeKey: node.nodeKey,
    processor: node.info.processor,
    // Locked from now on (report §5.2.3): what the node measured, not what anyone typed.
    speed: Math.floor(node.info.bogomips),
    memory: Math.floor(node.info.memory),
    storage: Math.floor(node.info.storage),
    ...sheet,
    usedSpeed: 0,
    usedMemory: 0,
    usedStorage: 0,
    drainUntil: null,
    sshPort: typeof node.info.sshPort === 'number' ? node.info.sshPort : null,
    sshFingerprint: typeof node.info.sshFingerprint === 'string' ? node.info.sshFingerprint : null,
    created: now,
  }
  await ctx.store.write([
    { type: 'put', table: 'pm', key: id, value: pm },
    {
      type: 'put',
      table: 'nodes',
      key: node.nodeKey,
      value: { ...node, pmId: id, pairingCodeHash: null, pairingUntil: null },
    },
    eventOp(now, {
      origin: userOrigin(provider),
      type: 'pm.add',
      message: `added ${name} (${pm.speed} bogomips, ${pm.memory} MB memory, ${pm.storage} MB storage)`,
      users: [provider.username],
      pmId: id,
    }),
  ])
  return pm
}

const pick = (pm: PmRow): Sheet => Object.fromEntries(SHEET_FIELDS.map((f) => [f, pm[f]])) as Sheet
const definedOnly = (o: object) =>
  Object.fromEntries(
    Object.entries(o).filter(([k, v]) => v !== undefined && (SHEET_FIELDS as readonly string[]).includes(k)),
  )

export type PmEditInput = Partial<Sheet> & { name?: string }
export const LOCKED_FIELDS = ['speed', 'memory', 'storage', 'processor', 'owner', 'nodeKey', 'id'] as const

export async function pmEdit(ctx: Ctx, who: Identity | null, pmId: string, patch: PmEditInput): Promise<PmRow> {
  const provider = requireProvider(who, 'pm edit')
  const pm = ownPm(ctx, provider, pmId)
  for (const f of LOCKED_FIELDS)
    if ((patch as any)[f] !== undefined)
      throw errors.badInput(
        f,
        'is locked once a machine is added (report §5.2.3); only prices, units, periods and the name change',
      )
  const next: PmRow = { ...pm, ...checkSheet({ ...pick(pm), ...definedOnly(patch) }) }
  if (patch.name !== undefined) next.name = checkName(patch.name)
  await ctx.store.write([
    { type: 'put', table: 'pm', key: pm.id, value: next },
    eventOp(ctx.clock(), {
      origin: userOrigin(provider),
      type: 'pm.edit',
      message: `edited ${next.name}; machines already stored keep their prices`,
      users: [provider.username],
      pmId: pm.id,
    }),
  ])
  return next
}

function vmsOn(ctx: Ctx, pmId: string): string[] {
  const out: string[] = []
  for (const p of ctx.store.values('pairings')) if (p.pmId === pmId) out.push(p.vmId)
  return out
}

function removePmOps(ctx: Ctx, pm: PmRow, now: number, origin: string): Op[] {
  const node = ctx.store.get('nodes', pm.nodeKey)
  const ops: Op[] = [{ type: 'del', table: 'pm', key: pm.id }]
  if (node) ops.push({ type: 'put', table: 'nodes', key: node.nodeKey, value: { ...node, pmId: null } })
  ops.push(
    eventOp(now, {
      origin,
      type: 'pm.delete',
      message: `removed ${pm.name} from the market`,
      users: [pm.owner],
      pmId: pm.id,
    }),
  )
  return ops
}

/** Refuses while machines are stored on it, unless drained: then owners get `drainMs` to move away. */
export async function pmDelete(
  ctx: Ctx,
  who: Identity | null,
  pmId: string,
  opts: { drainMs?: number } = {},
): Promise<{ deleted: boolean; drainUntil: number | null }> {
  const provider = requireProvider(who, 'pm delete')
  const pm = ownPm(ctx, provider, pmId)
  const vms = vmsOn(ctx, pm.id)
  const now = ctx.clock()
  if (vms.length === 0) {
    await ctx.store.write(removePmOps(ctx, pm, now, userOrigin(provider)))
    return { deleted: true, drainUntil: null }
  }
  if (opts.drainMs === undefined) throw errors.pmBusy(pm.id, vms.length)
  if (!Number.isSafeInteger(opts.drainMs) || opts.drainMs < 0)
    throw errors.badInput('drain', 'must be a duration of zero or more')
  const drainUntil = now + opts.drainMs
  const owners = new Set(vms.map((id) => ctx.store.get('vm', id)?.owner).filter((o): o is string => !!o))
  const ops: Op[] = [{ type: 'put', table: 'pm', key: pm.id, value: { ...pm, drainUntil } }]
  for (const id of vms) {
    const vm = ctx.store.get('vm', id)
    if (!vm) continue
    ops.push(
      eventOp(now, {
        origin: userOrigin(provider),
        type: 'pm.drain',
        message:
          `${pm.name}, which holds ${vm.name}, leaves the market at ` +
          `${new Date(drainUntil).toISOString()}; migrate the machine away before then or it will be deleted`,
        users: [vm.owner, pm.owner],
        vmId: id,
        pmId: pm.id,
      }),
    )
  }
  if (!owners.size)
    ops.push(
      eventOp(now, {
        origin: userOrigin(provider),
        type: 'pm.drain',
        message: `${pm.name} is draining`,
        users: [pm.owner],
        pmId: pm.id,
      }),
    )
  await ctx.store.write(ops)
  return { deleted: false, drainUntil }
}

/** Removes draining machines that are empty, and past their deadline evicts what is left first. */
export async function drainPass(ctx: Ctx, now: number): Promise<{ evicted: string[]; removed: string[] }> {
  const evicted: string[] = []
  const removed: string[] = []
  for (const pm of [...ctx.store.values('pm')]) {
    if (pm.drainUntil === null) continue
    let left = vmsOn(ctx, pm.id)
    if (left.length && pm.drainUntil <= now) {
      for (const id of left) {
        try {
          if (await evict(ctx, id)) evicted.push(id)
        } catch {
          /* provider offline or failing: retried next pass */
        }
      }
      left = vmsOn(ctx, pm.id)
    }
    const current = ctx.store.get('pm', pm.id)
    if (!left.length && current) {
      await ctx.store.write(removePmOps(ctx, current, ctx.clock(), 'hub'))
      removed.push(pm.id)
    }
  }
  return { evicted, removed }
}

export interface MarketAverages {
  /** Per hour per 1000 bogomips, per hour per 1024 MB memory, per day per 1024 MB storage. */
  speedPerHour: Micro
  memoryPerHour: Micro
  storagePerDay: Micro
  machines: number
}

/** The provider marketplace (report §5.2.5): every machine and the market's average asks. */
export function providers(ctx: Ctx): { pms: PmRow[]; averages: MarketAverages } {
  const pms = [...ctx.store.values('pm')].sort((a, b) => a.owner.localeCompare(b.owner) || a.name.localeCompare(b.name))
  let s = 0,
    m = 0,
    d = 0
  for (const pm of pms) {
    s += Math.floor((pm.speedPrice * HOUR_S * 1000) / pm.speedUnit)
    m += Math.floor((pm.memoryPrice * HOUR_S * 1024) / pm.memoryUnit)
    d += Math.floor((pm.storagePrice * 1024) / pm.storageUnit)
  }
  const n = pms.length || 1
  return {
    pms,
    averages: {
      speedPerHour: Math.floor(s / n),
      memoryPerHour: Math.floor(m / n),
      storagePerDay: Math.floor(d / n),
      machines: pms.length,
    },
  }
}
