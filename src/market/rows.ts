// Rows of the hub-only tables (never sent to clients; see feed.ts) and the table list.
import type { ConfigRow, EventRow, ImageRow, LedgerEntry, NetRow, PmRow, UserRow, VmRow, Change } from './types.ts'

export interface SessionRow {
  /** sha256 of the token: a stolen database does not yield working sessions. */
  id: string
  username: string
  created: number
  expires: number
}

/** Kept apart from the users table so a user row can be sent as is, with no secret to strip. */
export interface CredentialRow {
  username: string
  /** scrypt parameters travel with the hash so they can be raised later without breaking old rows. */
  N: number
  r: number
  p: number
  salt: string
  hash: string
}

export interface NodeInfo {
  processor: string
  cpus?: number
  bogomips: number
  memory: number
  storage: number
  hv?: string
  [k: string]: unknown
}

export interface NodeRow {
  nodeKey: string
  online: boolean
  lastSeen: number
  info: NodeInfo | null
  /** sha256 of the node's current one-time pairing code; cleared once used. */
  pairingCodeHash: string | null
  /** An unbound node's pairing window ends here (node-window.ts); null once bound. */
  pairingUntil?: number | null
  pmId: string | null
}

/** A machine's SSH host key, private half (hub-only: the guest gets it at boot, nobody else). */
export interface HostKeyRow {
  vmId: string
  private: string
}

export interface PairingRow {
  vmId: string
  pmId: string
}

export interface Tables {
  users: UserRow
  credentials: CredentialRow
  hostkeys: HostKeyRow
  sessions: SessionRow
  config: ConfigRow
  vm: VmRow
  pm: PmRow
  pairings: PairingRow
  nodes: NodeRow
  networks: NetRow
  migrations: Record<string, unknown>
  images: ImageRow
  meta: unknown
  ledger: LedgerEntry
  events: EventRow
  changes: Change
  /** Field updates of cached rows, merged over them at load (see store.ts, 'patch'). */
  patches: Record<string, unknown>
}

export type TableName = keyof Tables
/** Tables held in memory (loaded at open): every read of them is a Map lookup. */
export const CACHED_TABLES = [
  'users',
  'credentials',
  'hostkeys',
  'sessions',
  'config',
  'vm',
  'pm',
  'pairings',
  'nodes',
  'networks',
  'migrations',
  'images',
  'meta',
] as const
export type CachedTable = (typeof CACHED_TABLES)[number]
/** Append-only logs keyed by a zero-padded sequence number; read by range, never loaded whole. */
export const LOG_TABLES = ['ledger', 'events', 'changes'] as const
export type LogTable = (typeof LOG_TABLES)[number]
export const ALL_TABLES: TableName[] = [...CACHED_TABLES, ...LOG_TABLES, 'patches']
