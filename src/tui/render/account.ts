// Account view: balance, what each machine was charged (or earned) and the rate it burns now, a
// sparkline of spend or income from the ledger, and a warning before the balance runs out.
import type { LedgerEntry, PmRow, VmRow } from '../../market/types.ts'
import type { Column } from './table.ts'
import { duration, money, moneyApprox } from './format.ts'
import { evictableFrom } from '../../market/unpaid-policy.ts'
import { burnPerHour } from '../../market/pricing.ts'

export const HOUR_MS = 3_600_000
/** Warn when the balance lasts less than this at the current burn. */
export const DEFAULT_RUNWAY_WARNING_MS = 24 * HOUR_MS

export { burnPerHour }

export function totalBurn(vms: VmRow[]): number {
  return vms.reduce((sum, v) => sum + burnPerHour(v), 0)
}

/** How long the balance lasts at `perHour` (ms); null when nothing burns. */
export function runway(balance: number, perHour: number): number | null {
  if (perHour <= 0) return null
  return Math.max(0, (balance / perHour) * HOUR_MS)
}

/** The warning line, or null when the balance is safe. */
export function balanceWarning(
  balance: number,
  perHour: number,
  thresholdMs = DEFAULT_RUNWAY_WARNING_MS,
): string | null {
  if (perHour <= 0) return balance < 0 ? `balance is negative (${money(balance)}): deposit before storing more` : null
  if (balance <= 0) return `balance exhausted: machines are charged ${moneyApprox(perHour)}/h; deposit or stop them`
  const left = runway(balance, perHour)!
  if (left >= thresholdMs) return null
  return `balance runs out in ${duration(left)} at ${moneyApprox(perHour)}/h: deposit, or stop/suspend machines`
}

const BARS = '▁▂▃▄▅▆▇█'

/** One character per value, scaled to the largest; zero is the lowest bar. */
export function sparkline(values: number[]): string {
  const max = Math.max(0, ...values)
  return values
    .map((v) => (max <= 0 || v <= 0 ? BARS[0] : BARS[Math.min(7, 1 + Math.floor((v / max) * 6.999))]))
    .join('')
}

export type Flow = 'spend' | 'income'

/** Sum of my ledger flow into `n` equal time buckets ending at `end`. Deposits are neither. */
export function bucketLedger(
  entries: LedgerEntry[],
  me: string,
  flow: Flow,
  end: number,
  spanMs: number,
  n: number,
): number[] {
  const out = new Array<number>(Math.max(0, n)).fill(0)
  if (n <= 0 || spanMs <= 0) return out
  const start = end - spanMs
  for (const e of entries) {
    if (e.kind === 'deposit') continue
    if (flow === 'spend' ? e.from !== me : e.to !== me) continue
    if (e.time < start || e.time > end) continue
    const i = Math.min(n - 1, Math.floor(((e.time - start) / spanMs) * n))
    out[i] += e.amount
  }
  return out
}

/** A span that covers the ledger: from the first charge to now, at least an hour. */
export function ledgerSpan(entries: LedgerEntry[], now: number): number {
  const times = entries.filter((e) => e.kind !== 'deposit').map((e) => e.time)
  return Math.max(HOUR_MS, times.length ? now - Math.min(...times) : 0)
}

export const BUYER_ACCOUNT_COLUMNS: Column[] = [
  { header: 'MACHINE', grow: true, min: 8 },
  { header: 'STATE', min: 9 },
  { header: 'STORAGE PAID', align: 'right', min: 8 },
  { header: 'RUNNING PAID', align: 'right', min: 8 },
  { header: 'DEBT', align: 'right', min: 4 },
  { header: 'BURNS/H', align: 'right', min: 8 },
]

/** ' evictable from 2025-01-08' for unpaid storage (the date its provider may evict it), else ''. */
function evictionNote(v: VmRow): string {
  const from = evictableFrom(v)
  return from ? ` evictable from ${new Date(from).toISOString().slice(0, 10)}` : ''
}

export function buyerAccountRow(v: VmRow): string[] {
  return [
    v.name || v.id.slice(0, 8),
    v.state,
    money(v.chargedStorage),
    money(v.chargedRunning),
    // Unpaid storage shows when its provider may evict the machine (market/unpaid.ts).
    v.storageDebt ? `${money(v.storageDebt)}${evictionNote(v)}` : '-',
    moneyApprox(burnPerHour(v)),
  ]
}

export const PROVIDER_ACCOUNT_COLUMNS: Column[] = [
  { header: 'MACHINE', grow: true, min: 10 },
  { header: 'BUYER', min: 6 },
  { header: 'STATE', min: 9 },
  { header: 'EARNED', align: 'right', min: 8 },
  { header: 'EARNS/H', align: 'right', min: 8 },
]

export function earnedBy(entries: LedgerEntry[], me: string, match: (e: LedgerEntry) => boolean): number {
  return entries.reduce((s, e) => (e.to === me && e.kind !== 'deposit' && match(e) ? s + e.amount : s), 0)
}

/** A physical machine's line and one indented line per machine on it. */
export function providerAccountRows(pm: PmRow, vms: VmRow[], ledger: LedgerEntry[], me: string): string[][] {
  const rate = totalBurn(vms)
  const rows: string[][] = [
    [
      pm.name,
      '',
      `${vms.length} vm${vms.length === 1 ? '' : 's'}`,
      money(earnedBy(ledger, me, (e) => e.pmId === pm.id)),
      moneyApprox(rate),
    ],
  ]
  for (const v of vms)
    rows.push([
      `  └ ${v.name || v.id.slice(0, 8)}`,
      v.owner,
      v.state,
      money(earnedBy(ledger, me, (e) => e.vmId === v.id)),
      moneyApprox(burnPerHour(v)),
    ])
  return rows
}
