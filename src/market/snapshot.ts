// One consistent copy of every table (the report's switchdb, §6.1.5), and the check that makes it
// safe to load: the ledger replayed gives every balance exactly.
//
// Export file, version 2: a header line of exactly HEADER_BYTES bytes (JSON padded with spaces),
// then one `{"table","key","value"}` line per row, table by table in ALL_TABLES order, all read from
// one LevelDB snapshot. The header carries the ledger's last seq, the row count and the sha256 of
// every byte after the header line; it is written last, in place, so the export is one pass.
// The file I/O lives with the hub (src/hub/export-file.ts); this module is pure over the store.
import type { Store } from './store.ts'
import { ALL_TABLES, type TableName } from './rows.ts'
import type { LedgerEntry, Micro } from './types.ts'

export const EXPORT_FORMAT = 'market-export'
export const EXPORT_VERSION = 2
export const HEADER_BYTES = 256

export interface ExportHeader {
  virtuoso: typeof EXPORT_FORMAT
  version: typeof EXPORT_VERSION
  /** seq of the last ledger entry in the file (0 = none). */
  ledgerSeq: number
  rows: number
  /** sha256 (hex) of every byte after the header line. */
  sha256: string
}

export function formatHeader(h: Omit<ExportHeader, 'virtuoso' | 'version'>): string {
  const json = JSON.stringify({ virtuoso: EXPORT_FORMAT, version: EXPORT_VERSION, ...h })
  if (json.length > HEADER_BYTES - 1) throw new RangeError('export header too long')
  return json.padEnd(HEADER_BYTES - 1) + '\n'
}

/** The header, or a sentence saying why `text` is not one (the caller names the file). */
export function parseHeader(text: string): ExportHeader | string {
  let h: any
  try {
    h = JSON.parse(text)
  } catch {
    return 'its first line is not an export header'
  }
  if (h?.virtuoso !== EXPORT_FORMAT) return 'its first line is not an export header'
  if (h.version !== EXPORT_VERSION)
    return `export version ${h.version} is not supported (expected ${EXPORT_VERSION}); export again with this version`
  if (!Number.isSafeInteger(h.ledgerSeq) || !Number.isSafeInteger(h.rows) || !/^[0-9a-f]{64}$/.test(h.sha256))
    return 'its header lacks ledgerSeq, rows or sha256'
  return h as ExportHeader
}

/** One line of the file for one row: `raw` is the stored JSON, copied as is. */
export const rowLine = (table: TableName, key: string, raw: string) =>
  `{"table":${JSON.stringify(table)},"key":${JSON.stringify(key)},"value":${raw}}`

/** An account whose balance is not what its ledger entries add up to. */
export interface Difference {
  username: string
  /** null: the ledger names an account that has no row. */
  balance: Micro | null
  ledger: Micro
  difference: Micro
}

export interface ReplayResult {
  ledgerSeq: number
  entries: number
  accounts: number
  deposits: Micro
  differences: Difference[]
  /** Damage to the ledger itself: a gap, a key that is not its seq, an amount that is not money. */
  problems: string[]
}

/**
 * Replays a ledger against the balances, fed row by row (users, their patches, ledger entries, in
 * any order). Every entry moves `amount` from `from` (null: a deposit) to `to`, so each account's
 * balance must equal what it received minus what it paid.
 */
export class Replay {
  private balances = new Map<string, Micro>()
  private sums = new Map<string, Micro>()
  private lastSeq = 0
  private entries = 0
  private deposits = 0
  private problems: string[] = []

  row(table: TableName, key: string, value: any): void {
    if (table === 'users') this.balances.set(key, value?.balance)
    else if (table === 'patches' && key.startsWith('users!') && value && 'balance' in value) {
      const name = key.slice('users!'.length)
      if (this.balances.has(name)) this.balances.set(name, value.balance) // a load ignores orphan patches too
    } else if (table === 'ledger') this.entry(key, value as LedgerEntry)
  }

  private entry(key: string, e: LedgerEntry): void {
    this.entries++
    const seq = Number(key)
    if (this.problems.length < 10) {
      if (e?.seq !== seq) this.problems.push(`ledger entry ${key} says seq ${e?.seq}`)
      else if (seq !== this.lastSeq + 1) this.problems.push(`the ledger jumps from ${this.lastSeq} to ${seq}`)
      if (!Number.isSafeInteger(e?.amount) || e.amount < 0)
        this.problems.push(`ledger entry ${key} has amount ${JSON.stringify(e?.amount)}`)
    }
    this.lastSeq = Math.max(this.lastSeq, seq)
    if (!Number.isSafeInteger(e?.amount)) return
    if (e.from === null) this.deposits += e.amount
    else this.sums.set(e.from, (this.sums.get(e.from) ?? 0) - e.amount)
    this.sums.set(e.to, (this.sums.get(e.to) ?? 0) + e.amount)
  }

  result(): ReplayResult {
    const differences: Difference[] = []
    const names = new Set([...this.balances.keys(), ...this.sums.keys()])
    for (const username of [...names].sort()) {
      const has = this.balances.has(username)
      const balance = has ? this.balances.get(username)! : null
      const ledger = this.sums.get(username) ?? 0
      if (balance === ledger) continue
      if (!has && ledger === 0) continue
      const b = Number.isSafeInteger(balance) ? (balance as number) : 0
      differences.push({ username, balance, ledger, difference: b - ledger })
    }
    return {
      ledgerSeq: this.lastSeq,
      entries: this.entries,
      accounts: this.balances.size,
      deposits: this.deposits,
      differences,
      problems: [...this.problems],
    }
  }
}

/** Replays the store's ledger against its balances, both read from one snapshot (safe while it runs). */
export async function verifyStore(store: Store): Promise<ReplayResult> {
  const replay = new Replay()
  for await (const { table, rows } of store.snapshot(['users', 'patches', 'ledger']))
    for (const [key, raw] of rows)
      // Patches of users count; the machines' charges do not.
      if (table !== 'patches' || key.startsWith('users!')) replay.row(table, key, JSON.parse(raw))
  return replay.result()
}

export interface ExportStats {
  rows: number
  ledgerSeq: number
}

/**
 * The row lines of an export, every table from one snapshot; `stats` is filled as they go. Lines
 * come in arrays (one per stored batch) so the writer hashes and writes large chunks.
 */
export async function* exportRows(store: Store, stats: ExportStats): AsyncGenerator<string[]> {
  for await (const { table, rows } of store.snapshot(ALL_TABLES)) {
    stats.rows += rows.length
    if (table === 'ledger' && rows.length) stats.ledgerSeq = Number(rows[rows.length - 1][0])
    yield rows.map(([key, raw]) => rowLine(table, key, raw))
  }
}
