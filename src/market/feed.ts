// Who may see which change (report §6.1.4): public market tables to everyone, a user's own rows to
// that user, a provider's machines and the machines on them to that provider, hub secrets to nobody.
// The audience of a row is fixed when it is written (store.ts asks `audienceOf`), so a deletion,
// whose value is null, still reaches exactly the users the row concerned.
import type { Change, Identity, VmRow } from './types.ts'
import { CACHED_TABLES, type TableName } from './rows.ts'
import type { Store } from './store.ts'
import { seqKey } from './store-keys.ts'

export const PUBLIC_TABLES: ReadonlySet<string> = new Set(['config', 'pm', 'statusrelations', 'images'])
/** Never sent: session hashes, password hashes, node pairing hashes, hub bookkeeping. */
export const SECRET_TABLES: ReadonlySet<string> = new Set([
  'sessions',
  'credentials',
  'hostkeys',
  'nodes',
  'meta',
  'changes',
])

export function audienceOf(store: Store): (table: TableName, key: string, value: any) => string[] | undefined {
  const pmOwner = (pmId: string | null | undefined) => (pmId ? store.get('pm', pmId)?.owner : undefined)
  const vmOwner = (vmId: string | null | undefined) => (vmId ? store.get('vm', vmId)?.owner : undefined)
  const list = (...names: Array<string | null | undefined>): string[] => {
    const out: string[] = []
    for (const n of names) if (typeof n === 'string' && !out.includes(n)) out.push(n)
    return out
  }
  return (table, key, value) => {
    if (PUBLIC_TABLES.has(table) || SECRET_TABLES.has(table) || value == null) return undefined
    switch (table) {
      case 'users':
        return [key]
      case 'networks':
        return [value.owner]
      case 'vm':
        return list(value.owner, pmOwner(value.pmId))
      case 'pairings':
        return list(vmOwner(value.vmId), pmOwner(value.pmId))
      case 'ledger':
        return list(value.from, value.to)
      case 'events':
        return list(...(value.users ?? []))
      case 'migrations':
        return list(...(Array.isArray(value.users) ? value.users : []), value.owner)
      default:
        return undefined
    }
  }
}

export function visibleTo(change: Change, who: Identity | null): boolean {
  if (PUBLIC_TABLES.has(change.table)) return true
  if (SECRET_TABLES.has(change.table) || !who) return false
  return change.audience?.includes(who.username) ?? false
}

/** What of a buyer's machine its provider is sent: everything but the buyer's own bids. */
const BUYER_ONLY_VM_FIELDS = ['bidStorage', 'bidRunning'] as const

/**
 * The change as `who` may receive it, or null. A row is judged by the audience of the value being
 * sent, not only the one it had when written: a replayed change carries the row's latest value, and a
 * machine that migrated away is no longer its old provider's business, so a user who was in the
 * audience but is not any more receives a deletion of the key (their replica drops the row) instead of
 * the new value. A provider receives a buyer's machine without the buyer's bids.
 */
export function viewFor(
  change: Change,
  who: Identity | null,
  audience: (table: TableName, key: string, value: any) => string[] | undefined,
): Change | null {
  if (!visibleTo(change, who)) return null
  if (PUBLIC_TABLES.has(change.table) || change.value == null || !who) return change
  const current = audience(change.table as TableName, change.key, change.value)
  if (current && !current.includes(who.username)) return { ...change, value: null }
  if (change.table === 'vm' && (change.value as VmRow).owner !== who.username) {
    const value: Record<string, unknown> = { ...(change.value as VmRow) }
    for (const f of BUYER_ONLY_VM_FIELDS) delete value[f]
    return { ...change, value }
  }
  return change
}

/** Every row `who` may see, as changes stamped with the current seq (a replica's fresh start). */
export async function feedSnapshot(db: Store, who: Identity | null): Promise<{ seq: number; rows: Change[] }> {
  const seq = db.seq('changes')
  const aud = audienceOf(db)
  const rows: Change[] = []
  const add = (table: string, key: string, value: unknown) => {
    const c: Change = { seq, table, key, value }
    const a = aud(table as TableName, key, value)
    if (a) c.audience = a
    const v = viewFor(c, who, aud)
    if (v && v.value !== null) rows.push(v)
  }
  for (const t of CACHED_TABLES) for (const [k, v] of db.rows(t)) add(t, k, v)
  if (who) {
    await db.scan('ledger', (e) => add('ledger', seqKey(e.seq), e))
    await db.scan('events', (e) => add('events', seqKey(e.seq), e))
  }
  return { seq, rows }
}

/** A replica further behind than this gets a snapshot instead of the backlog. */
export const MAX_BACKLOG = 100_000

/** Changes after `since`, or null when the caller must take a snapshot (unknown, or more than `max` behind). */
export async function changesSince(db: Store, since: number, max = MAX_BACKLOG): Promise<Change[] | null> {
  if (!Number.isSafeInteger(since) || since < 0 || since > db.seq('changes')) return null
  const rows = await db.changesAfter(since, max + 1)
  return rows.length > max ? null : rows
}
