// Providers' physical machines (report §5.2, table pmseller); the nodes that carry them are in
// nodes.ts. `pm add` with a node's one-time pairing code binds the node to the provider's account.
// The measured figures are locked from then on; prices, units, periods and the name may change,
// never for machines already stored (their prices live in their own vm rows).
import { randomUUID } from 'node:crypto'
import type { Ctx } from './context.ts'
import { ownPm, requireProvider } from './context.ts'
import { checkDisplayName } from './machines.ts'
import { errors } from './errors.ts'
import { eventOp, userOrigin } from './events.ts'
import { evict } from './removal.ts'
import { HOUR_S } from './pricing.ts'
import { hashPairingCode } from './pairing.ts'
import type { NodeRow } from './rows.ts'
import { checkConnectSpeed, measureConnect } from './connect-speed.ts'
import { checkSheet, DEFAULT_SHEET, SHEET_FIELDS, type Sheet } from './sheet.ts'
import { checkPairingAttempts, pairingFailed, pairingSucceeded, windowOpen } from './node-window.ts'
import type { Op } from './store.ts'
import type { Identity, Micro, PmRow } from './types.ts'

export interface PmAddInput extends Partial<Sheet> {
  pairing: string
  /** Mbit/s the provider states; checked against the hub's measurement. */
  connectSpeed?: number
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
  const measured = await measureConnect(ctx, node.nodeKey)
  const connectSpeed = checkConnectSpeed(input.connectSpeed, measured)
  pairingSucceeded(ctx, provider.username)
  const id = randomUUID()
  const fallback = base ? `${base.name}-copy` : `pm-${id.slice(0, 8)}`
  const name = input.name !== undefined ? checkDisplayName(input.name) : fallback
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
    connectSpeed,
    connectMeasured: measured,
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
  if (patch.name !== undefined) next.name = checkDisplayName(patch.name)
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
export function providers(
  ctx: Ctx,
  opts: { sort?: 'name' | 'connectspeed' } = {},
): {
  pms: PmRow[]
  averages: MarketAverages
} {
  const byName = (a: PmRow, b: PmRow) => a.owner.localeCompare(b.owner) || a.name.localeCompare(b.name)
  const pms = [...ctx.store.values('pm')].sort(
    opts.sort === 'connectspeed' ? (a, b) => (b.connectSpeed ?? 0) - (a.connectSpeed ?? 0) || byName(a, b) : byName,
  )
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
