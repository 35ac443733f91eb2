// Migration as a market transaction (report §7.1.6, §7.3.3). The hub's agent (src/vmmp/agent.ts)
// drives the providers; these rules are the only writers of the `migrations` table and of a
// machine's 'migrating' state, each step ONE batch:
//   begin   machine -> 'migrating' (remembering prevState), room RESERVED on the destination, record
//   commit  pairing moves, the origin's room is freed, version' set, prevState restored, a new
//           storage period starts at the destination with its prices (report §5.1), phase 'committed'
//   revert  the reservation is released, prevState restored at the origin, nothing charged, 'failed'
// Reserving at begin (not at commit) means a migration that succeeds can always be committed: no
// other store can take the destination's room meanwhile.
import { randomUUID } from 'node:crypto'
import type { Ctx } from './context.ts'
import { ownVm, pmRow, requireBuyer, requireUser, withVmLock } from './context.ts'
import { accrue } from './billing.ts'
import { errors, marketError, MARKET_BAD_INPUT, MARKET_NOT_FOUND, MARKET_BUSY } from './errors.ts'
import { eventOp, userOrigin } from './events.ts'
import { formatMoney, placedRates, quote } from './pricing.ts'
import { roomOp } from './room.ts'
import { roomProblem } from './search.ts'
import { requireAction } from './statusrelations.ts'
import type { Op } from './store.ts'
import type { Identity, PmRow, VmRow, VmState } from './types.ts'
import { Wallet } from './wallet.ts'

export type MigrationPhase = 'preparing' | 'copying' | 'committed' | 'failed'
export const OPEN_PHASES: readonly MigrationPhase[] = ['preparing', 'copying']

/** Where a migration's time went, in ms (null: not reached, or not reported by an older destination).
 *  query: QUERY -> RESULTS; prepare: begin + both providers prepared; copy: REQ until the destination
 *  has the bytes; verify: its checks and registration; commit: RESP -> the commit batch written. */
export interface MigrationPhases {
  query: number | null
  prepare: number | null
  copy: number | null
  verify: number | null
  commit: number | null
}

const PHASE_NAMES = ['query', 'prepare', 'copy', 'verify', 'commit'] as const

/** "query 12ms · prepare 80ms · copy 1.21s · verify 40ms · commit 9ms"; '' when none is known. */
export function formatPhases(p: MigrationPhases | null | undefined, sep = ' · '): string {
  if (!p) return ''
  const t = (v: number) => (v < 1000 ? `${v}ms` : `${(v / 1000).toFixed(2)}s`)
  return PHASE_NAMES.filter((k) => typeof p[k] === 'number')
    .map((k) => `${k} ${t(p[k]!)}`)
    .join(sep)
}

export interface MigrationEnd {
  pmId: string
  nodeKey: string
  name: string
  owner: string
}

export interface MigrationRow {
  id: string
  vmId: string
  vmName: string
  /** The buyer; `users` is everyone the row concerns (feed.ts sends it to them). */
  owner: string
  users: string[]
  from: MigrationEnd
  to: MigrationEnd
  method: string
  prevState: VmState
  /** The machine's version when it left; it arrives as version + 1 (report §7.1.5). */
  version: number
  newVersion: number | null
  phase: MigrationPhase
  bytesDone: number
  bytesTotal: number
  /** Bytes per second, smoothed. */
  rate: number
  /** Seconds left at `rate`; null when unknown. */
  eta: number | null
  /** Time of the last HEARTBEAT (or progress frame) from the destination. */
  lastHeartbeat: number | null
  error: { code: string; message: string } | null
  started: number
  finished: number | null
  /** Settling after the decision: the origin released (cached) or the destination's copy removed. */
  originReleased: boolean
  destCleaned: boolean
  /** Per-phase timing; absent in rows written before it existed. */
  phases?: MigrationPhases | null
}

export interface MigrateInput {
  vmId: string
  to: string
  method?: string
}

export const migrationErrors = {
  samePm: (pmId: string) =>
    marketError(
      MARKET_BAD_INPUT,
      `the machine is already on provider machine ${pmId}; pick another destination with \`virtuoso search\``,
    ),
  notFound: (id: string) =>
    marketError(MARKET_NOT_FOUND, `migration ${id} not found; list yours with \`virtuoso migrations\``),
  unsettled: (vmId: string) =>
    marketError(
      MARKET_BUSY,
      `the last migration of ${vmId} is still being cleaned up on its providers; try again in a few seconds`,
    ),
}

function end(pm: PmRow): MigrationEnd {
  return { pmId: pm.id, nodeKey: pm.nodeKey, name: pm.name, owner: pm.owner }
}

/** Every rule a migration must pass before anything moves; run again inside begin's batch. */
export function checkMigration(
  ctx: Ctx,
  who: Identity | null,
  input: MigrateInput,
): { vm: VmRow; from: PmRow; to: PmRow } {
  const buyer = requireBuyer(who, 'migrate')
  const vm = ownVm(ctx, buyer, input.vmId)
  requireAction(vm.state, 'migrate')
  const from = pmRow(ctx, vm.pmId)
  const to = typeof input.to === 'string' ? ctx.store.get('pm', input.to) : undefined
  if (!to) throw errors.notFound('provider machine', String(input.to))
  if (to.id === from.id) throw migrationErrors.samePm(to.id)
  const now = ctx.clock()
  const preview = { ...vm }
  const wallet = new Wallet(ctx.store)
  accrue(preview, now, wallet, from.owner)
  if (preview.storageDebt > 0) throw errors.storageDebt(vm.id, formatMoney(preview.storageDebt))
  if (to.drainUntil !== null) throw errors.noRoom(to.id, 'it is being withdrawn from the market')
  const why = roomProblem(to, vm)
  if (why) throw errors.noRoom(to.id, why)
  if (!ctx.gateway.online(to.nodeKey)) throw errors.providerOffline(to.id)
  if (!ctx.gateway.online(from.nodeKey)) throw errors.providerOffline(from.id)
  const q = quote(to, vm)
  const balance = wallet.balance(vm.owner)
  if (balance < q.storagePrice)
    throw errors.insufficientFunds(
      'migrate it there',
      `${formatMoney(q.storagePrice)} for the first storage period`,
      formatMoney(balance),
    )
  return { vm, from, to }
}

export async function beginMigration(
  ctx: Ctx,
  who: Identity | null,
  input: MigrateInput & { method: string },
): Promise<MigrationRow> {
  checkMigration(ctx, who, input)
  return withVmLock(ctx, input.vmId, async () => {
    const { vm, from, to } = checkMigration(ctx, who, input) // no await between this check and the write
    const now = ctx.clock()
    const row: MigrationRow = {
      id: randomUUID(),
      vmId: vm.id,
      vmName: vm.name,
      owner: vm.owner,
      users: [...new Set([vm.owner, from.owner, to.owner])],
      from: end(from),
      to: end(to),
      method: input.method,
      prevState: vm.state,
      version: vm.version,
      newVersion: null,
      phase: 'preparing',
      bytesDone: 0,
      bytesTotal: 0,
      rate: 0,
      eta: null,
      lastHeartbeat: null,
      error: null,
      started: now,
      finished: null,
      originReleased: false,
      destCleaned: false,
    }
    await ctx.store.write([
      { type: 'put', table: 'migrations', key: row.id, value: row },
      { type: 'put', table: 'vm', key: vm.id, value: { ...vm, state: 'migrating', prevState: vm.state } },
      ...roomOp(ctx, to.id, vm, 1),
      eventOp(now, {
        origin: userOrigin(requireUser(who)),
        type: 'vm.migrate',
        message: `migrating ${vm.name} from ${from.name} to ${to.name} by ${input.method} (version ${vm.version})`,
        users: row.users,
        vmId: vm.id,
        pmId: to.id,
      }),
    ])
    return row
  })
}

export function getMigration(ctx: Ctx, id: string): MigrationRow {
  const m = ctx.store.get('migrations', id) as MigrationRow | undefined
  if (!m) throw migrationErrors.notFound(id)
  return m
}

export function openMigrations(ctx: Ctx): MigrationRow[] {
  return [...ctx.store.values('migrations')]
    .map((m) => m as unknown as MigrationRow)
    .filter((m) => OPEN_PHASES.includes(m.phase))
}

/** The agent's check before it asks the destination anything: checkMigration, and the machine's last
 *  migration is settled on its providers (a new one would race that clean-up). */
export function checkMigrationStart(
  ctx: Ctx,
  who: Identity | null,
  input: MigrateInput,
): { vm: VmRow; from: PmRow; to: PmRow } {
  const checked = checkMigration(ctx, who, input)
  if (unsettledMigrations(ctx).some((m) => m.vmId === checked.vm.id)) throw migrationErrors.unsettled(checked.vm.id)
  return checked
}

/** Migrations decided but not yet settled on the providers (release the origin, clean the destination). */
export function unsettledMigrations(ctx: Ctx): MigrationRow[] {
  return [...ctx.store.values('migrations')]
    .map((m) => m as unknown as MigrationRow)
    .filter(
      (m) =>
        (m.phase === 'committed' && !m.originReleased) ||
        (m.phase === 'failed' && (!m.originReleased || !m.destCleaned)),
    )
}

export function listMigrations(ctx: Ctx, who: Identity | null): MigrationRow[] {
  const u = requireUser(who)
  return [...ctx.store.values('migrations')]
    .map((m) => m as unknown as MigrationRow)
    .filter((m) => m.users.includes(u.username))
    .sort((a, b) => b.started - a.started)
}

export type ProgressPatch = Partial<
  Pick<MigrationRow, 'phase' | 'bytesDone' | 'bytesTotal' | 'rate' | 'eta' | 'lastHeartbeat' | 'phases'>
>

/** Live figures for clients; only while the migration is open (a late frame never reopens it). */
export async function progress(ctx: Ctx, id: string, patch: ProgressPatch): Promise<void> {
  const m = getMigration(ctx, id)
  if (!OPEN_PHASES.includes(m.phase)) return
  await ctx.store.write([{ type: 'put', table: 'migrations', key: id, value: { ...m, ...patch } }])
}

/** RESP SUCCESS: one batch moves everything (report §7.3.3). Idempotent for an already committed one. */
export async function commitMigration(
  ctx: Ctx,
  id: string,
  newVersion: number,
  phases?: MigrationPhases,
): Promise<MigrationRow> {
  const m = getMigration(ctx, id)
  if (m.phase === 'committed') return m
  if (!OPEN_PHASES.includes(m.phase)) throw errors.actionNotAllowed('commit', `migration ${m.phase}`, [])
  if (newVersion !== m.version + 1) throw errors.versionMismatch(m.vmId, m.version + 1, newVersion)
  const vm0 = ctx.store.get('vm', m.vmId)
  const from = ctx.store.get('pm', m.from.pmId)
  const to = ctx.store.get('pm', m.to.pmId)
  if (!vm0 || !from || !to) throw errors.notFound('machine', m.vmId)
  const now = ctx.clock()
  const vm = { ...vm0 }
  const wallet = new Wallet(ctx.store)
  // Periods begun at the origin before now are the origin's; the new one is the destination's.
  const { ops } = accrue(vm, now, wallet, from.owner)
  const q = quote(to, vm)
  if (q.storagePrice > 0 && wallet.balance(vm.owner) >= q.storagePrice) {
    ops.push(wallet.transfer('storage', now, vm.owner, to.owner, q.storagePrice, vm.id, to.id))
    vm.chargedStorage += q.storagePrice
  } else if (q.storagePrice > 0) {
    vm.storageDebt += q.storagePrice // the balance fell meanwhile: the machine moved, the period is owed
  }
  Object.assign(vm, {
    state: m.prevState,
    prevState: null,
    version: newVersion,
    pmId: to.id,
    ...placedRates(q),
    lastDebitedStorage: now,
  })
  const done: MigrationRow = {
    ...m,
    phase: 'committed',
    newVersion,
    finished: now,
    eta: 0,
    bytesDone: Math.max(m.bytesDone, m.bytesTotal),
    ...(phases ? { phases } : {}),
  }
  ops.push(
    { type: 'put', table: 'vm', key: vm.id, value: vm },
    { type: 'put', table: 'pairings', key: vm.id, value: { vmId: vm.id, pmId: to.id } },
    ...roomOp(ctx, from.id, vm, -1),
    ...wallet.flush(),
    { type: 'put', table: 'migrations', key: id, value: done },
    eventOp(now, {
      origin: 'hub',
      type: 'vm.migrated',
      message:
        `${vm.name} arrived on ${to.name} from ${from.name} (version ${newVersion}, ` +
        `${formatMoney(q.storagePrice)} per ${q.storagePeriod} s storage there)`,
      users: m.users,
      vmId: vm.id,
      pmId: to.id,
    }),
  )
  await ctx.store.write(ops, { sync: true })
  return done
}

/** FAIL, a missed heartbeat, a lost provider: back to where it was, nothing charged. Idempotent. */
export async function revertMigration(
  ctx: Ctx,
  id: string,
  reason: { code: string; message: string },
): Promise<MigrationRow> {
  const m = getMigration(ctx, id)
  if (!OPEN_PHASES.includes(m.phase)) return m
  const vm = ctx.store.get('vm', m.vmId)
  const to = ctx.store.get('pm', m.to.pmId)
  const now = ctx.clock()
  const done: MigrationRow = {
    ...m,
    phase: 'failed',
    error: { code: reason.code, message: reason.message },
    finished: now,
    eta: null,
  }
  const ops: Op[] = [{ type: 'put', table: 'migrations', key: id, value: done }]
  if (vm && vm.state === 'migrating')
    ops.push({ type: 'put', table: 'vm', key: vm.id, value: { ...vm, state: m.prevState, prevState: null } })
  if (to && vm) ops.push(...roomOp(ctx, to.id, vm, -1))
  ops.push(
    eventOp(now, {
      origin: 'hub',
      type: 'vm.migrate.failed',
      message:
        `migration of ${m.vmName} to ${m.to.name} failed and was reverted; it is ${m.prevState} on ` +
        `${m.from.name} again: ${reason.message}`,
      users: m.users,
      vmId: m.vmId,
      pmId: m.from.pmId,
    }),
  )
  await ctx.store.write(ops, { sync: true })
  return done
}

export async function markSettled(
  ctx: Ctx,
  id: string,
  patch: { originReleased?: boolean; destCleaned?: boolean; phases?: MigrationPhases },
): Promise<void> {
  const m = getMigration(ctx, id)
  await ctx.store.write([{ type: 'put', table: 'migrations', key: id, value: { ...m, ...patch } }])
}
