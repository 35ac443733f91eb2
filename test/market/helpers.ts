// Test doubles for the market: a controllable clock and an in-memory ProviderGateway that records
// every command, emulates the provider's version counter, and can fail or go offline on demand.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { Market } from '../../src/market/market.ts'
import type { ProviderGateway } from '../../src/market/gateway.ts'
import type { Identity, PmRow } from '../../src/market/types.ts'
import { hashPairingCode } from '../../src/market/pairing.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

export class FakeGateway implements ProviderGateway {
  calls: Array<{ nodeKey: string; method: string; params: any }> = []
  offline = new Set<string>()
  /** Methods that fail on their next call. */
  failNext = new Set<string>()
  /** When set, answers this version instead of the right one. */
  lie: number | null = null
  /** How long a node takes to answer the hub's speed test (connectspeed). */
  speedtestDelayMs = 0
  /** Holds every command until released (to test MARKET_BUSY). */
  gate: Promise<void> | null = null

  online(nodeKey: string): boolean {
    return !this.offline.has(nodeKey)
  }

  async command(nodeKey: string, method: string, params: any): Promise<any> {
    this.calls.push({ nodeKey, method, params })
    if (this.gate) await this.gate
    if (this.offline.has(nodeKey)) throw Object.assign(new Error('offline'), { code: 'NODE_OFFLINE' })
    if (this.failNext.delete(method)) throw new Error(`${method} failed on the provider`)
    if (method === 'vm.delete') return {}
    // A node's answer to the hub's speed test (connectspeed), as the provider agent makes it.
    if (method === 'net.speedtest') {
      if (this.speedtestDelayMs) await new Promise((r) => setTimeout(r, this.speedtestDelayMs))
      return { data: 'A'.repeat(Math.ceil((params.bytes * 4) / 3)) }
    }
    const bump = method === 'vm.create' || method === 'vm.stop' || method === 'vm.suspend' ? 1 : 0
    return { version: this.lie ?? params.version + bump }
  }

  methods(): string[] {
    return this.calls.map((c) => c.method)
  }
}

export const T0 = Date.UTC(2025, 0, 1)
export const HOUR = 3600_000
export const DAY = 24 * HOUR

export interface World {
  dir: string
  market: Market
  gateway: FakeGateway
  clock: { t: number }
  /** When set, every store write fails with it (a disk failure; the store then refuses writes). */
  diskFault: Error | null
  /** Close and open again; `scryptN` changes the cost of new password hashes from then on. */
  reopen(scryptN?: number): Promise<Market>
  close(): Promise<void>
}

export async function world(opts: { keepDir?: string } = {}): Promise<World> {
  const dir = opts.keepDir ?? (await mkdtemp(join(tmpdir(), 'virtuoso-market-')))
  const gateway = new FakeGateway()
  const clock = { t: T0 }
  const fault: { w?: World } = {}
  const storeFault = () => fault.w?.diskFault ?? null
  const w: World = {
    dir,
    gateway,
    clock,
    diskFault: null,
    market: await Market.open({ dir, gateway, clock: () => clock.t, storeFault, scryptN: TEST_SCRYPT_N }),
    async reopen(scryptN = TEST_SCRYPT_N) {
      await w.market.close()
      w.market = await Market.open({ dir, gateway, clock: () => clock.t, storeFault, scryptN })
      return w.market
    },
    async close() {
      await w.market.close().catch(() => {})
      await rm(dir, { recursive: true, force: true })
    },
  }
  fault.w = w
  return w
}

let nodeCounter = 0
export const nodeKeyOf = (n: number) => createHash('sha256').update(`node-${n}`).digest('hex')

export async function user(m: Market, username: string, type: 'buyer' | 'provider'): Promise<Identity> {
  await m.signup({ username, type, email: `${username}@example.org`, password: 'correct horse' })
  return { username, type }
}

export const INFO = { processor: 'x86_64', cpus: 2, bogomips: 8000, memory: 2048, storage: 20_000, hv: 'test' }

/** Storage 1 per MB-chunk of 1024 per day, 1-day storage periods; running 1/s per chunk, 1 h periods. */
export const SHEET = {
  speedUnit: 1000,
  speedPrice: 1,
  memoryUnit: 128,
  memoryPrice: 1,
  runningPeriod: 3600,
  storageUnit: 1024,
  storagePrice: 1000,
  storagePeriod: 86_400,
}

/** A node says hello and its provider adds it; returns the PM. */
export async function addPm(
  m: Market,
  provider: Identity,
  opts: { info?: object; sheet?: Partial<typeof SHEET>; name?: string } = {},
): Promise<PmRow> {
  const n = ++nodeCounter
  const key = nodeKeyOf(n)
  const code = `CODE${n}-ABCDE`
  await m.nodeHello(key, { info: { ...INFO, ...opts.info }, pairingCodeHash: hashPairingCode(code) })
  return m.pmAdd(provider, { pairing: code, name: opts.name ?? `pm${n}`, ...SHEET, ...opts.sheet })
}

export async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn()
  } catch (err) {
    return (err as any).code ?? 'NO_CODE'
  }
  return 'NO_ERROR'
}

/** Resolves when `pred` holds, checked at each committed market change. */
export function untilChange(m: Market, pred: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (pred()) return resolve()
    const on = () => {
      if (!pred()) return
      m.off('change', on)
      resolve()
    }
    m.on('change', on)
  })
}
