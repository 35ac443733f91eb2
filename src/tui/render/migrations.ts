// Migrations view: one card per migration, live: phase, a progress bar, rate, ETA, heartbeat age,
// and the reason when it failed; a finished one shows where its time went, phase by phase.
import { bytes, duration, percent, truncate } from './format.ts'
import { formatPhases, type MigrationPhases } from '../../market/migrations.ts'

export interface MigrationRow {
  id: string
  vmId: string
  from: string
  to: string
  method: string
  phase: string
  bytesDone: number
  bytesTotal: number
  /** bytes per second */
  rate: number | null
  /** seconds left, or an absolute time (ms since the epoch) */
  eta: number | null
  lastHeartbeat: number | null
  error: string | null
  started?: number
  finished?: number | null
  owner?: string
  /** Where the time went (query, prepare, copy, verify, commit), once known. */
  phases?: MigrationPhases | null
}

/** A heartbeat older than this is shown as late (the agent gives up within seconds). */
export const HEARTBEAT_LATE_MS = 5_000
export const DONE_PHASES = new Set(['done', 'committed', 'complete', 'completed'])
export const FAILED_PHASES = new Set(['failed', 'reverted', 'aborted'])

export function isFailed(m: Pick<MigrationRow, 'phase' | 'error'>): boolean {
  return !!m.error || FAILED_PHASES.has(m.phase)
}

export function isDone(m: Pick<MigrationRow, 'phase' | 'error'>): boolean {
  return !isFailed(m) && DONE_PHASES.has(m.phase)
}

export function progressBar(done: number, total: number, width: number): string {
  const w = Math.max(1, width)
  const filled = total > 0 ? Math.max(0, Math.min(w, Math.floor((done / total) * w))) : 0
  return '█'.repeat(filled) + '░'.repeat(w - filled)
}

/** Milliseconds left: from `eta` (seconds left, or an absolute time), else from the rate. */
export function etaMs(m: Pick<MigrationRow, 'eta' | 'rate' | 'bytesDone' | 'bytesTotal'>, now: number): number | null {
  if (typeof m.eta === 'number' && Number.isFinite(m.eta)) return m.eta > 1e12 ? Math.max(0, m.eta - now) : m.eta * 1000
  if (m.rate && m.rate > 0 && m.bytesTotal > 0) return ((m.bytesTotal - m.bytesDone) / m.rate) * 1000
  return null
}

export function heartbeatAge(m: Pick<MigrationRow, 'lastHeartbeat'>, now: number): number | null {
  return m.lastHeartbeat ? Math.max(0, now - m.lastHeartbeat) : null
}

export interface MigrationCard {
  title: string
  detail: string
  /** 'ok' | 'late' | 'failed' | 'done' : the view picks the color */
  tone: 'ok' | 'late' | 'failed' | 'done'
}

export function migrationCard(
  m: MigrationRow,
  names: { vm: string; from: string; to: string },
  now: number,
  width: number,
): MigrationCard {
  const age = heartbeatAge(m, now)
  const failed = isFailed(m)
  const done = isDone(m)
  const late = !failed && !done && age !== null && age > HEARTBEAT_LATE_MS
  const beat = failed || done ? '' : `  beat ${age === null ? '-' : duration(age)} ago${late ? ' (late)' : ''}`
  const title = truncate(
    `${names.vm}  ${names.from} → ${names.to}  ${m.method}  ${failed ? 'FAILED' : m.phase}${beat}`,
    width,
  )
  if (failed)
    return {
      title,
      detail: truncate(
        `  ${m.error ? `reason: ${m.error}` : `ended in phase ${m.phase}`}; the machine stays on ${names.from}`,
        width,
      ),
      tone: 'failed',
    }
  if (done && m.phases) {
    const took = m.started && m.finished ? ` in ${(Math.max(0, m.finished - m.started) / 1000).toFixed(1)}s` : ''
    const moved = `${bytes(Math.max(m.bytesDone, m.bytesTotal))} moved`
    return { title, detail: truncate(`  done${took}, ${moved}: ${formatPhases(m.phases)}`, width), tone: 'done' }
  }
  const pct = done ? 100 : percent(m.bytesDone, m.bytesTotal)
  const eta = etaMs(m, now)
  const tail =
    ` ${String(pct).padStart(3)}%  ${bytes(m.bytesDone)}/${bytes(m.bytesTotal)}  ` +
    `${m.rate ? `${bytes(m.rate)}/s` : '-'}  ETA ${done ? '0s' : duration(eta)}`
  const barWidth = Math.max(5, Math.min(40, width - tail.length - 3))
  const bar = progressBar(done ? 1 : m.bytesDone, done ? 1 : m.bytesTotal, barWidth)
  return { title, detail: truncate(`  ${bar}${tail}`, width), tone: done ? 'done' : late ? 'late' : 'ok' }
}

/** Running ones first (newest first), then finished ones. */
export function orderMigrations(rows: MigrationRow[]): MigrationRow[] {
  const rank = (m: MigrationRow) => (isFailed(m) || isDone(m) ? 1 : 0)
  return [...rows].sort((a, b) => rank(a) - rank(b) || (b.started ?? 0) - (a.started ?? 0) || b.id.localeCompare(a.id))
}
