// Plain records for the TUI's tests and screen captures: a small market seen by buyer "alice" and
// provider "pat". Times are fixed so renders are stable.
import type { ConfigRow, EventRow, ImageRow, LedgerEntry, PmRow, VmRow } from '../../src/market/types.ts'
import type { MigrationRow } from '../../src/tui/render/migrations.ts'
import type { SearchResult } from '../../src/tui/render/search.ts'

export const NOW = Date.UTC(2025, 5, 1, 12, 0, 0)
const H = 3_600_000

export const configs: ConfigRow[] = [
  {
    name: 'small',
    preconfigured: true,
    processor: 'x86_64',
    os: 'linux',
    memory: 256,
    hd: 2048,
    speed: 500,
    askedStoragePrice: 10_000,
    askedRunningPrice: 3_600,
    pricedAt: NOW,
  },
  {
    name: 'medium',
    preconfigured: true,
    processor: 'x86_64',
    os: 'linux',
    memory: 1024,
    hd: 4096,
    speed: 1000,
    askedStoragePrice: 40_000,
    askedRunningPrice: 12_000,
    pricedAt: NOW,
  },
  {
    name: 'large-blank',
    preconfigured: false,
    processor: 'x86_64',
    os: null,
    memory: 4096,
    hd: 20480,
    speed: 4000,
    askedStoragePrice: 200_000,
    askedRunningPrice: 60_000,
    pricedAt: NOW,
  },
]

export function pm(over: Partial<PmRow> & { id: string; name: string }): PmRow {
  return {
    owner: 'pat',
    nodeKey: 'ab'.repeat(32),
    processor: 'x86_64',
    speed: 8000,
    memory: 16384,
    storage: 204800,
    speedUnit: 500,
    speedPrice: 1,
    memoryUnit: 256,
    memoryPrice: 1,
    runningPeriod: 3600,
    storageUnit: 1024,
    storagePrice: 10_000,
    storagePeriod: 86400,
    usedSpeed: 0,
    usedMemory: 0,
    usedStorage: 0,
    drainUntil: null,
    sshPort: null,
    sshFingerprint: null,
    created: NOW - 100 * H,
    ...over,
  }
}

export const pms: PmRow[] = [
  pm({ id: 'pm-alpha-0001', name: 'alpha', usedSpeed: 1500, usedMemory: 1280, usedStorage: 5120 }),
  pm({ id: 'pm-bravo-0002', name: 'bravo', owner: 'quinn', speedPrice: 2, memoryPrice: 2, storagePrice: 5_000 }),
  pm({
    id: 'pm-charlie-03',
    name: 'charlie',
    owner: 'pat',
    speedPrice: 1,
    memoryPrice: 1,
    storagePrice: 20_000,
    drainUntil: NOW + 24 * H,
  }),
]

export const images: ImageRow[] = [
  {
    name: 'debian-12',
    os: 'debian',
    size: 433_061_888,
    digest: 'd1'.repeat(32),
    publisher: 'hub',
    servers: ['hub', 'ab'.repeat(32)],
    published: NOW - 30 * H,
  },
  {
    name: 'linux',
    os: 'linux',
    size: 26_214_400,
    digest: 'a7'.repeat(32),
    publisher: 'pat',
    servers: ['cd'.repeat(32)],
    published: NOW - 2 * H,
  },
]

export function vm(over: Partial<VmRow> & { id: string; name: string; state: VmRow['state'] }): VmRow {
  return {
    owner: 'alice',
    configName: 'small',
    processor: 'x86_64',
    os: 'linux',
    memory: 256,
    hd: 2048,
    speed: 500,
    prevState: null,
    version: 1,
    pmId: null,
    storagePrice: 0,
    storagePeriod: 86400,
    runningPrice: 0,
    runningPeriod: 3600,
    bidStorage: 10_000,
    bidRunning: 3_600,
    lastDebitedStorage: null,
    lastDebitedRunning: null,
    runningCredit: 0,
    runningPaidUntil: null,
    storageDebt: 0,
    chargedStorage: 0,
    chargedRunning: 0,
    created: NOW - 10 * H,
    ...over,
  }
}

const stored = { pmId: 'pm-alpha-0001', storagePrice: 10_000, runningPrice: 7_200 }
export const vms: VmRow[] = [
  vm({
    id: 'vm-web-000001',
    name: 'web',
    state: 'started',
    version: 3,
    ...stored,
    chargedStorage: 20_000,
    chargedRunning: 36_000,
    created: NOW - 9 * H,
  }),
  vm({
    id: 'vm-db-0000002',
    name: 'db',
    state: 'stored',
    version: 1,
    ...stored,
    configName: 'medium',
    memory: 1024,
    hd: 4096,
    speed: 1000,
    chargedStorage: 10_000,
    created: NOW - 8 * H,
    os: 'debian',
    image: 'debian-12',
    imageDigest: 'd1'.repeat(32),
    delivered: { image: 'debian-12', bytes: 433_061_888, bySource: { hub: 433_061_888 }, ms: 21_400 },
    media: { name: 'rescue.iso', digest: 'c0'.repeat(32), size: 5_111_808 },
  }),
  vm({
    id: 'vm-cache-00003',
    name: 'cache',
    state: 'suspended',
    version: 4,
    ...stored,
    chargedStorage: 10_000,
    chargedRunning: 7_200,
    created: NOW - 7 * H,
  }),
  vm({ id: 'vm-new-000004', name: 'scratch', state: 'registered', version: 0, created: NOW - 6 * H }),
  vm({
    id: 'vm-mig-000005',
    name: 'batch',
    state: 'migrating',
    prevState: 'stopped',
    version: 2,
    ...stored,
    chargedStorage: 10_000,
    created: NOW - 5 * H,
  }),
]

export const ledger: LedgerEntry[] = [
  { seq: 1, time: NOW - 10 * H, kind: 'deposit', from: null, to: 'alice', amount: 5_000_000, vmId: null, pmId: null },
  ...Array.from({ length: 12 }, (_, i): LedgerEntry => ({
    seq: 2 + i,
    time: NOW - (9 - i * 0.7) * H,
    kind: i % 3 === 0 ? 'storage' : 'running',
    from: 'alice',
    to: 'pat',
    amount: i % 3 === 0 ? 10_000 : 7_200,
    vmId: 'vm-web-000001',
    pmId: 'pm-alpha-0001',
  })),
]

export const events: EventRow[] = [
  {
    seq: 1,
    time: NOW - 10 * H,
    origin: 'user:alice',
    type: 'user.signup',
    message: 'buyer alice signed up',
    users: ['alice'],
  },
  {
    seq: 2,
    time: NOW - 9 * H,
    origin: 'user:alice',
    type: 'vm.register',
    message: 'alice registered web (small)',
    users: ['alice'],
    vmId: 'vm-web-000001',
  },
  {
    seq: 3,
    time: NOW - 9 * H + 60_000,
    origin: 'hub',
    type: 'vm.store',
    message: 'web stored on alpha',
    users: ['alice', 'pat'],
    vmId: 'vm-web-000001',
  },
  {
    seq: 4,
    time: NOW - 2 * H,
    origin: 'node:abababab',
    type: 'vm.start',
    message: 'web started on alpha',
    users: ['alice', 'pat'],
    vmId: 'vm-web-000001',
  },
  {
    seq: 5,
    time: NOW - 60_000,
    origin: 'hub',
    type: 'migration.failed',
    message: 'cache to bravo failed: heartbeat lost',
    users: ['alice'],
    vmId: 'vm-cache-00003',
  },
]

export const migrations: MigrationRow[] = [
  {
    id: 'mig-1',
    vmId: 'vm-mig-000005',
    from: 'pm-alpha-0001',
    to: 'pm-bravo-0002',
    method: 'RSYNC',
    phase: 'copying',
    bytesDone: 400 * 2 ** 20,
    bytesTotal: 1024 * 2 ** 20,
    rate: 80 * 2 ** 20,
    eta: 8,
    lastHeartbeat: NOW - 1_000,
    error: null,
    started: NOW - 5_000,
  },
  {
    id: 'mig-0',
    vmId: 'vm-cache-00003',
    from: 'pm-alpha-0001',
    to: 'pm-bravo-0002',
    method: 'SCP',
    phase: 'failed',
    bytesDone: 100 * 2 ** 20,
    bytesTotal: 1024 * 2 ** 20,
    rate: null,
    eta: null,
    lastHeartbeat: NOW - 70_000,
    error: 'heartbeat lost: bravo went silent for 5 s',
    started: NOW - 120_000,
  },
]

export const results: SearchResult[] = [
  {
    pmId: 'pm-alpha-0001',
    name: 'alpha',
    owner: 'pat',
    storagePrice: 10_000,
    storagePeriod: 86400,
    runningPrice: 7_200,
    runningPeriod: 3600,
    storagePerDay: 10_000,
    runningPerHour: 7_200,
    withinBids: false,
  },
  {
    pmId: 'pm-bravo-0002',
    name: 'bravo',
    owner: 'quinn',
    storagePrice: 5_000,
    storagePeriod: 86400,
    runningPrice: 14_400,
    runningPeriod: 3600,
    storagePerDay: 5_000,
    runningPerHour: 14_400,
    withinBids: false,
  },
  {
    pmId: 'pm-delta-0004',
    name: 'delta',
    owner: 'rita',
    storagePrice: 8_000,
    storagePeriod: 86400,
    runningPrice: 3_000,
    runningPeriod: 3600,
    storagePerDay: 8_000,
    runningPerHour: 3_000,
    withinBids: true,
  },
]

export const pmById = new Map(pms.map((p) => [p.id, p]))

/** The provider's side: pat's machines and the machines on them. */
export const patPms = pms.filter((p) => p.owner === 'pat')
export const patVms: VmRow[] = vms
  .filter((v) => v.pmId === 'pm-alpha-0001')
  .concat([
    vm({
      id: 'vm-bob-000009',
      name: 'bobs',
      owner: 'bob',
      state: 'started',
      pmId: 'pm-alpha-0001',
      storagePrice: 10_000,
      runningPrice: 7_200,
    }),
  ])
export const patLedger: LedgerEntry[] = ledger.filter((e) => e.kind !== 'deposit')
