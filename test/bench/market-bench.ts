// Market benchmarks (issue 2): search among 10,000 provider machines (p50), one billing pass over
// 100,000 stored machines, and hub restart (Market.open) with 100,000 machines. Rows are seeded
// straight into the store (the rules are tested elsewhere); the measured calls are the real ones.
// Run alone: node bin/run-ts.js test/bench/market-bench.ts
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { createHash } from 'node:crypto'
import { Market } from '../../src/market/market.ts'
import type { ProviderGateway } from '../../src/market/gateway.ts'
import type { Op } from '../../src/market/store.ts'
import type { PmRow, UserRow, VmRow } from '../../src/market/types.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

export interface BenchResult {
  name: string
  value: number
  unit: string
  target: string
}

const PMS = 10_000
const VMS = 100_000
const USERS = 200
const DAY = 86_400_000
const T0 = Date.UTC(2025, 0, 1)

const gateway: ProviderGateway = {
  online: () => true,
  command: async (_k, _m, p: any) => ({ version: (p.version ?? 0) + 1 }),
}

function p50(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

export async function seed(m: Market): Promise<void> {
  const ops: Op[] = []
  const flush = async () => {
    await m.db.write(ops.splice(0))
  }
  for (let i = 0; i < USERS; i++) {
    const type = i % 2 ? 'provider' : 'buyer'
    const u: UserRow = {
      username: `u${i}`,
      email: `u${i}@example.org`,
      type,
      balance: type === 'buyer' ? 1e12 : 0,
      created: T0,
    }
    ops.push({ type: 'put', table: 'users', key: u.username, value: u })
  }
  await flush()
  for (let i = 0; i < PMS; i++) {
    const pm: PmRow = {
      id: `pm-${String(i).padStart(5, '0')}`,
      name: `pm${i}`,
      owner: `u${(i % (USERS / 2)) * 2 + 1}`,
      nodeKey: createHash('sha256').update(String(i)).digest('hex'),
      processor: 'x86_64',
      speed: 64_000,
      memory: 65_536,
      storage: 4_000_000,
      speedUnit: 1000,
      speedPrice: 1 + (i % 7),
      memoryUnit: 128,
      memoryPrice: 1 + (i % 5),
      runningPeriod: 3600,
      storageUnit: 1024,
      storagePrice: 1000 + (i % 13),
      storagePeriod: 86_400,
      usedSpeed: 0,
      usedMemory: 0,
      usedStorage: 0,
      drainUntil: null,
      sshPort: null,
      sshFingerprint: null,
      created: T0,
    }
    ops.push({ type: 'put', table: 'pm', key: pm.id, value: pm })
    if (ops.length >= 5000) await flush()
  }
  await flush()
  for (let i = 0; i < VMS; i++) {
    const started = i % 5 === 0
    const id = `vm-${String(i).padStart(6, '0')}-${createHash('sha1').update(String(i)).digest('hex').slice(0, 20)}`
    const pmId = `pm-${String(i % PMS).padStart(5, '0')}`
    const vm: VmRow = {
      id,
      owner: `u${(i % (USERS / 2)) * 2}`,
      name: `vm${i}`,
      configName: 'small',
      processor: 'x86_64',
      os: null,
      memory: 128,
      hd: 2100,
      speed: 1000,
      state: started ? 'started' : 'stored',
      prevState: null,
      version: 1,
      pmId,
      storagePrice: 3000,
      storagePeriod: 86_400,
      runningPrice: 7200,
      runningPeriod: 86_400,
      bidStorage: null,
      bidRunning: null,
      lastDebitedStorage: T0,
      lastDebitedRunning: started ? T0 : null,
      runningCredit: 0,
      runningPaidUntil: started ? T0 + DAY : null,
      storageDebt: 0,
      chargedStorage: 3000,
      chargedRunning: started ? 7200 : 0,
      created: T0,
    }
    ops.push(
      { type: 'put', table: 'vm', key: id, value: vm },
      { type: 'put', table: 'pairings', key: id, value: { vmId: id, pmId } },
    )
    if (ops.length >= 20_000) await flush()
  }
  await flush()
}

export async function marketBench(): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'virtuoso-market-bench-'))
  const clock = { t: T0 }
  try {
    let m = await Market.open({ dir, gateway, clock: () => clock.t, scryptN: TEST_SCRYPT_N })
    await seed(m)
    const buyer = { username: 'u0', type: 'buyer' as const }
    const vm = await m.register(buyer, { config: 'small' })
    const times: number[] = []
    for (let i = 0; i < 101; i++) {
      const t = performance.now()
      const offers = m.search(buyer, { vmId: vm.id, sort: (['running', 'storage', 'total'] as const)[i % 3] })
      times.push(performance.now() - t)
      if (offers.length !== PMS) throw new Error(`search found ${offers.length} of ${PMS}`)
    }
    clock.t = T0 + DAY
    let t = performance.now()
    const r = await m.billingPass()
    const billing = (performance.now() - t) / 1000
    if (r.machines !== VMS) throw new Error(`billing charged ${r.machines} of ${VMS} machines`)
    await m.close()
    t = performance.now()
    m = await Market.open({ dir, gateway, clock: () => clock.t, scryptN: TEST_SCRYPT_N })
    const restart = (performance.now() - t) / 1000
    if (m.db.rows('vm').size !== VMS + 1) throw new Error('restart lost machines')
    await m.close()
    return [
      {
        name: `search among ${PMS.toLocaleString('en')} provider machines (p50)`,
        value: +p50(times).toFixed(2),
        unit: 'ms',
        target: '< 20 ms',
      },
      {
        name: `billing pass over ${VMS.toLocaleString('en')} stored machines (${r.charges.toLocaleString('en')} charges)`,
        value: +billing.toFixed(2),
        unit: 's',
        target: '< 3 s',
      },
      {
        name: `hub restart (Market.open) with ${VMS.toLocaleString('en')} machines`,
        value: +restart.toFixed(2),
        unit: 's',
        target: '< 5 s',
      },
    ]
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await marketBench()
  console.table(rows)
}
