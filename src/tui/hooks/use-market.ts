// The TUI's one data layer: a replica of the tables the hub lets me see, fed by the change feed
// (replica@1), plus the market@1 calls the views make. Views never touch the client: they get the
// arrays and `call` from here, so a change in the market's shapes is an edit to this file only.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react'
import type {
  NetRow,
  Change,
  ConfigRow,
  ImageRow,
  EventRow,
  Identity,
  LedgerEntry,
  PmRow,
  UserRow,
  VmRow,
} from '../../market/types.ts'
import type { MigrationRow } from '../render/migrations.ts'

/** What the TUI needs of a MarketClient (src/client/market-client.ts): the real one, or a stand-in in view tests. */
export interface MarketApi {
  token: string
  call<T = any>(method: string, params?: unknown): Promise<T>
  subscribe(since: number, onRows: (kind: 'snapshot' | 'changes', rows: Change[]) => void): Promise<{ seq: number }>
}

/** Re-render at most this often while the feed is busy. */
export const DEFAULT_THROTTLE_MS = 50
/** How many events to backfill from `log` at start. */
export const LOG_BACKFILL = 200

/** Tables as Maps keyed like the hub keys them; applying a change is a put or a delete. */
export class Replica {
  readonly tables = new Map<string, Map<string, unknown>>()
  seq = -1

  table(name: string): Map<string, unknown> {
    let t = this.tables.get(name)
    if (!t) this.tables.set(name, (t = new Map()))
    return t
  }

  apply(rows: Change[]): Set<string> {
    const touched = new Set<string>()
    for (const c of rows) {
      if (!c || typeof c.table !== 'string') continue
      const t = this.table(c.table)
      if (c.value === null || c.value === undefined) t.delete(String(c.key))
      else t.set(String(c.key), c.value)
      if (typeof c.seq === 'number' && c.seq > this.seq) this.seq = c.seq
      touched.add(c.table)
    }
    return touched
  }

  /** Rows learned from a call (backfill): added where the feed has not already said something. */
  merge(table: string, rows: unknown[], keyOf: (r: any) => string): void {
    const t = this.table(table)
    for (const r of rows) {
      const k = keyOf(r)
      if (!t.has(k)) t.set(k, r)
    }
  }

  rows<T>(name: string): T[] {
    return [...(this.tables.get(name)?.values() ?? [])] as T[]
  }
}

export interface MarketData {
  me: Identity | null
  user: UserRow | null
  balance: number | null
  configs: ConfigRow[]
  /** The image catalog (a public table). */
  images: ImageRow[]
  pms: PmRow[]
  pmById: ReadonlyMap<string, PmRow>
  /** Buyer: my machines. Provider: the machines on my physical machines. */
  vms: VmRow[]
  ledger: LedgerEntry[]
  events: EventRow[]
  migrations: MigrationRow[]
  /** Buyer: my networks (the feed sends each owner theirs). */
  nets: NetRow[]
  /** Provider: which of my physical machines are online (from `machines`; not in the feed). */
  online: Record<string, boolean>
  ready: boolean
  seq: number
}

/** Sorted by seq, one row per seq (the feed and a backfill may key the same row differently). */
export function bySeq<T extends { seq: number }>(rows: T[]): T[] {
  return [...new Map(rows.map((r) => [r.seq, r])).values()].sort((a, b) => a.seq - b.seq)
}

/** Derive the views' arrays from a replica. Pure: tested without React. */
/** The hub's migration row (src/market/migrations.ts) as the Migrations view reads it. */
export function toMigrationRow(m: any): MigrationRow {
  const end = (e: any) => (e && typeof e === 'object' ? String(e.pmId) : String(e ?? ''))
  const error = m.error && typeof m.error === 'object' ? String(m.error.message ?? m.error.code) : (m.error ?? null)
  return { ...m, from: end(m.from), to: end(m.to), error }
}

export function derive(
  r: Replica,
  me: Identity | null,
  extra: { online?: Record<string, boolean>; balance?: number | null; ready?: boolean } = {},
): MarketData {
  const pms = r.rows<PmRow>('pm').sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id))
  const pmById = new Map(pms.map((p) => [p.id, p]))
  const user = me ? ((r.table('users').get(me.username) as UserRow | undefined) ?? null) : null
  const mine = new Set(pms.filter((p) => p.owner === me?.username).map((p) => p.id))
  const vms = r
    .rows<VmRow>('vm')
    .filter((v) => !me || (me.type === 'buyer' ? v.owner === me.username : !!v.pmId && mine.has(v.pmId)))
    .sort((a, b) => a.created - b.created || a.id.localeCompare(b.id))
  return {
    me,
    user,
    balance: user?.balance ?? extra.balance ?? null,
    configs: r.rows<ConfigRow>('config').sort((a, b) => a.memory - b.memory || a.name.localeCompare(b.name)),
    images: r.rows<ImageRow>('images').sort((a, b) => a.name.localeCompare(b.name)),
    pms,
    pmById,
    vms,
    ledger: bySeq(r.rows<LedgerEntry>('ledger')),
    events: bySeq(r.rows<EventRow>('events')),
    migrations: r.rows<any>('migrations').map(toMigrationRow),
    nets: r.rows<NetRow>('networks').filter((n) => !me || n.owner === me.username),
    online: extra.online ?? {},
    ready: extra.ready ?? false,
    seq: r.seq,
  }
}

export interface Market {
  data: MarketData
  call<T = any>(method: string, params?: unknown): Promise<T>
}

/** Follow the feed while logged in as `me`; `onError` gets feed failures (the status line). */
export function useMarket(
  api: MarketApi | null,
  me: Identity | null,
  opts: { throttleMs?: number; onError?: (err: Error) => void } = {},
): Market {
  const replica = useRef(new Replica())
  const [version, setVersion] = useState(0)
  const [online, setOnline] = useState<Record<string, boolean>>({})
  const [balance, setBalance] = useState<number | null>(null)
  const [ready, setReady] = useState(false)
  const onError = useRef(opts.onError)
  onError.current = opts.onError

  useEffect(() => {
    if (!api || !me) return
    let live = true
    const r = new Replica()
    replica.current = r
    setReady(false)
    let timer: NodeJS.Timeout | undefined
    let onlineTimer: NodeJS.Timeout | undefined
    const bump = () => {
      if (timer) return
      timer = setTimeout(() => {
        timer = undefined
        if (live) setVersion((v) => v + 1)
      }, opts.throttleMs ?? DEFAULT_THROTTLE_MS)
    }
    const fail = (err: any) => {
      if (live) onError.current?.(err instanceof Error ? err : new Error(String(err?.message ?? err)))
    }
    // Online state of my physical machines is not in the feed; ask again when they change.
    const refreshOnline = () => {
      if (me.type !== 'provider' || onlineTimer) return
      onlineTimer = setTimeout(() => {
        onlineTimer = undefined
        api.call<{ pms?: Array<{ id?: string; pmId?: string; online?: boolean }> }>('machines').then(
          (res) => {
            if (live) setOnline(Object.fromEntries((res.pms ?? []).map((p) => [p.pmId ?? p.id, p.online !== false])))
          },
          () => {},
        )
      }, 300)
    }
    api
      .subscribe(-1, (kind, rows) => {
        if (!live) return
        const touched = r.apply(rows)
        if (kind === 'snapshot') setReady(true)
        if (touched.has('pm') || touched.has('vm')) refreshOnline()
        bump()
      })
      .then(() => {
        if (live) setReady(true)
      }, fail)
    api.call<{ events?: EventRow[] }>('log', { limit: LOG_BACKFILL }).then(
      (res) => {
        if (live && Array.isArray(res?.events)) {
          r.merge('events', res.events, (e) => String(e.seq))
          bump()
        }
      },
      () => {},
    )
    api.call<{ balance?: number }>('account').then(
      (res) => {
        if (live && typeof res?.balance === 'number') setBalance(res.balance)
      },
      () => {},
    )
    refreshOnline()
    return () => {
      live = false
      clearTimeout(timer)
      clearTimeout(onlineTimer)
    }
  }, [api, me?.username, me?.type])

  const data = useMemo(
    () => derive(replica.current, me, { online, balance, ready }),
    [version, me, online, balance, ready],
  )
  const call = useCallback(
    <T = any>(method: string, params: unknown = {}) => {
      if (!api) return Promise.reject(new Error('not connected to a market'))
      return api.call<T>(method, params)
    },
    [api],
  )
  return { data, call }
}
