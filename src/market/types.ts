// Records of the market tables (report §6.1.6), as stored by the hub and sent to clients.
// Money is integer micro-units (1e-6 of the currency), never floats. Times are ms since the epoch.
// Sizes are MB, speed is bogomips, periods are seconds.

export type Micro = number
export type AccountType = 'buyer' | 'provider'
/** Market states of a virtual machine (report §6.1.7). */
export type VmState = 'registered' | 'stored' | 'started' | 'stopped' | 'suspended' | 'migrating'
/** Actions of the statusrelations table, in our spelling. */
export type VmAction =
  | 'search'
  | 'edit'
  | 'store'
  | 'start'
  | 'stop'
  | 'suspend'
  | 'resume'
  | 'view'
  | 'migrate'
  | 'migrationstatus'
  | 'delete'

export interface Identity {
  username: string
  type: AccountType
  /** Set by authenticate: the stored id (sha256) of the session the request came with, for logout. */
  session?: string
}

export interface UserRow {
  username: string
  email: string
  type: AccountType
  balance: Micro
  created: number
}

/** A standard configuration (tables config and preconfig: preconfigured ones have an OS installed). */
export interface ConfigRow {
  name: string
  preconfigured: boolean
  processor: string
  os: string | null
  memory: number
  hd: number
  speed: number
  /** Market average for storing it, per day. */
  askedStoragePrice: Micro
  /** Market average for running it, per hour. */
  askedRunningPrice: Micro
  pricedAt: number | null
  /** The catalog image a preconfiguration installs (images.ts); absent = the OS alone. */
  image?: string | null
}

/** A provider's physical machine (table pmseller). speed, memory and storage are locked once added. */
export interface PmRow {
  id: string
  name: string
  owner: string
  nodeKey: string
  processor: string
  speed: number
  memory: number
  storage: number
  speedUnit: number
  /** Per second, per speedUnit chunk. */
  speedPrice: Micro
  memoryUnit: number
  /** Per second, per memoryUnit chunk. */
  memoryPrice: Micro
  runningPeriod: number
  storageUnit: number
  /** Per day, per storageUnit chunk. */
  storagePrice: Micro
  /** Seconds (the report counts it in days; the CLI takes days). */
  storagePeriod: number
  usedSpeed: number
  usedMemory: number
  usedStorage: number
  /** While draining: the deadline after which the machines left on it are removed. */
  drainUntil: number | null
  sshPort: number | null
  sshFingerprint: string | null
  /** connectspeed (report §6.1.6): Mbit/s the provider stated (or, unstated, the measurement). */
  connectSpeed?: number | null
  /** Mbit/s the hub measured from the node at pairing. */
  connectMeasured?: number | null
  created: number
}

/** A buyer's virtual machine (table vm plus its pairing). */
export interface VmRow {
  id: string
  owner: string
  name: string
  configName: string | null
  processor: string
  os: string | null
  memory: number
  hd: number
  speed: number
  state: VmState
  /** The state to return to when a migration ends. */
  prevState: VmState | null
  version: number
  pmId: string | null
  /** Fixed when stored: price per storage period / running period, and the periods. */
  storagePrice: Micro
  storagePeriod: number
  runningPrice: Micro
  runningPeriod: number
  /** Bids while registered: per day for storage, per hour for running; null = no limit. */
  bidStorage: Micro | null
  bidRunning: Micro | null
  lastDebitedStorage: number | null
  lastDebitedRunning: number | null
  /** Running time already paid for and not yet used (ms): no rounding (report §5.1). */
  runningCredit: number
  /** While started: the end of the running time paid for (ms); the next running period starts here. */
  runningPaidUntil: number | null
  storageDebt: Micro
  /** Unpaid storage (unpaid.ts): when the debt was first found, and the last warning given. */
  unpaidSince?: number | null
  unpaidWarned?: 'unpaid' | 'overdue' | null
  chargedStorage: Micro
  chargedRunning: Micro
  created: number
  /** Its network card (report §6.2.3): the buyer's network, the market's address in it and the MAC.
   *  Fixed at registration for the machine's whole life; absent on machines made before networks. */
  netId?: string | null
  address?: string | null
  mac?: string | null
  /** The buyer's SSH public keys, put into the guest at boot (register --ssh-key); absent = none. */
  sshKeys?: string[]
  /** The guest's SSH host public key ('ssh-ed25519 AAAA…'), made at register and put in at every
   *  boot (private half in the hub-only hostkeys table), so the owner's ssh knows it without asking
   *  (`virtuoso ssh`); absent on machines registered before it existed. */
  hostKey?: string | null
  /** The catalog image its disk starts from (images.ts), pinned by digest at register; absent = none. */
  image?: string | null
  imageDigest?: string | null
  /** While its image is delivered at store (state 'migrating', as in report §6.3.1); absent = none. */
  delivery?: Delivery | null
  /** How its image arrived at store: bytes moved (0 = the provider had it cached), from whom, how long. */
  delivered?: { image: string; bytes: number; bySource: Record<string, number>; ms: number } | null
  /** Install media attached as a CD-ROM from the next boot (media.ts); absent = none. */
  media?: { name: string; digest: string; size: number } | null
}

/** A buyer's private network (the report's VNET): machines of it reach each other by `address`. */
export interface NetRow {
  id: string
  owner: string
  name: string
  /** IPv4 CIDR, e.g. 10.42.0.0/24; the first host is the switch's (DHCP server). */
  subnet: string
  created: number
}

/** Progress of an image on its way to the provider machine a machine is being stored on. */
export interface Delivery {
  pmId: string
  image: string
  bytesDone: number
  bytesTotal: number
  started: number
}

/** A catalog image (report §6.3.1 preconfigurations): content-addressed raw disk bytes. */
export interface ImageRow {
  name: string
  os: string
  /** Bytes of the raw disk image. */
  size: number
  /** Hex SHA-256 hash-list root of its 64 KiB block manifest (src/vmmp/manifest.ts rootOf). */
  digest: string
  /** 'hub' (the operator) or the provider's username. */
  publisher: string
  /** Who holds it: 'hub', or provider node keys that have it cached or published it. */
  servers: string[]
  published: number
}

export interface LedgerEntry {
  seq: number
  time: number
  kind: 'deposit' | 'storage' | 'running'
  /** Debited account (null for a deposit). */
  from: string | null
  to: string
  amount: Micro
  vmId: string | null
  pmId: string | null
}

export interface EventRow {
  seq: number
  time: number
  /** Who raised it: 'hub' or 'node:<key prefix>' or 'user:<name>'. */
  origin: string
  type: string
  message: string
  /** Users it concerns (they see it in `log`); empty = operator only. */
  users: string[]
  vmId?: string
  pmId?: string
}

/** One entry of the change feed that replicas follow: `value` null means deleted. */
export interface Change {
  seq: number
  table: string
  key: string
  value: unknown
  /** Users a non-public row concerns (owner, provider, ledger parties), fixed when written; see feed.ts. */
  audience?: string[]
}
