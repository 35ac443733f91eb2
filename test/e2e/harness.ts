// Real processes for end-to-end tests: `virtuoso dht`, hubs and provider nodes started through the
// CLI, on 127.0.0.1 only, and CLI calls made the way a user makes them.
import { execa } from 'execa'
import { providerNodeArgs, spawnVirtuoso as spawnChild, VIRTUOSO_BIN, type Child } from '../../src/cli/child.ts'
import { vi } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { MigrationFaults } from '../../src/vmmp/server.ts'
import { TEST_COST } from '../scrypt-cost.ts'

export { TEST_COST } from '../scrypt-cost.ts'

// Every CLI call is a new process that loads TypeScript and dials the DHT (~1 s, several when CI's
// two cores also boot guests): end-to-end tests get room for that.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 })

export const ROOT = resolve(import.meta.dirname, '../..')
export const BIN = VIRTUOSO_BIN

export type Proc = Child
/** Migration faults a restarted provider injects (test/e2e/fault-node.ts); see MigrationFaults. */
export type Faults = MigrationFaults
const FAULT_NODE = [join(ROOT, 'bin/run-ts.js'), join(ROOT, 'test/e2e/fault-node.ts')]

export function spawnVirtuoso(args: string[], env: Record<string, string> = {}): Proc {
  return spawnChild(args, { env })
}

export interface CliResult {
  stdout: string
  stderr: string
  exitCode: number
  json: any
}

/** Run one CLI command as a user whose profile lives in `home`. */
export async function cli(
  home: string,
  args: string[],
  opts: { input?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  const r = await execa('node', [BIN, ...args], {
    env: { VIRTUOSO_HOME: home, VIRTUOSO_DEBUG: '', ...opts.env },
    input: opts.input ?? '',
    reject: false,
    timeout: 60_000,
  })
  let json: any = null
  if (args.includes('--json')) {
    const last = String(r.stdout).trim().split('\n').pop()
    try {
      json = last ? JSON.parse(last) : null
    } catch {
      json = null
    }
  }
  return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode ?? -1, json }
}

export async function tempDir(prefix = 'virtuoso-e2e-'): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return { path, remove: () => rm(path, { recursive: true, force: true }) }
}

/** A whole private market: DHT bootstrap, hub, and `providers` provider nodes (test hypervisor by default). */
export async function startMarket(
  root: string,
  opts: { providers?: number; hv?: 'test' | 'qemu'; billingIntervalMs?: number; hubFlags?: string[] } = {},
) {
  const dht = spawnVirtuoso(['dht', '--port', '0'])
  const [, bootstrap] = await dht.waitFor(/listening on (\S+)/)
  const hubArgs = [
    'node',
    '--hub',
    '--data',
    join(root, 'hub'),
    '--bootstrap',
    bootstrap,
    '--billing-interval',
    String(opts.billingIntervalMs ?? 500),
    ...TEST_COST,
    ...(opts.hubFlags ?? []),
  ]
  const hub = spawnVirtuoso(hubArgs)
  const [, market] = await hub.waitFor(/market key: ([0-9a-f]{64})/)
  const providers: Array<{ proc: Proc; nodeKey: string; pairing: string; data: string; hv: 'test' | 'qemu' }> = []
  const spawnProvider = async (data: string, hv: 'test' | 'qemu', faults?: Faults) => {
    const args = providerNodeArgs({ data, market, bootstrap, hv, extra: TEST_COST })
    const proc = faults ? spawnChild([JSON.stringify(faults), ...args], { entry: FAULT_NODE }) : spawnChild(args)
    const [, nodeKey] = await proc.waitFor(/node key: ([0-9a-f]{64})/)
    const [, pairing] = await proc.waitFor(/pairing code: (\S+)/)
    // Ready once the hub has its hello (the pairing code works from then on).
    for (let t = 0; !proc.errLines.some((l) => /connected to the hub|bound to the market/.test(l)); t++) {
      if (t > 300) throw new Error(`provider ${data} never reached the hub: ${proc.errLines.slice(-5).join(' | ')}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    return { proc, nodeKey, pairing, data, hv }
  }
  for (let i = 0; i < (opts.providers ?? 2); i++)
    providers.push(await spawnProvider(join(root, `provider${i}`), opts.hv ?? 'test'))
  const env = { VIRTUOSO_MARKET: market, VIRTUOSO_BOOTSTRAP: bootstrap }
  return {
    dht,
    hub,
    providers,
    market,
    bootstrap,
    env,
    hubArgs,
    /** One more provider node (its own data dir and hypervisor); returns its index. */
    async addProvider(hv: 'test' | 'qemu', faults?: Faults) {
      providers.push(await spawnProvider(join(root, `provider${providers.length}`), hv, faults))
      return providers.length - 1
    },
    /** Restart provider i (same data, same node key), e.g. with migration faults injected. */
    async restartProvider(i: number, faults?: Faults, signal: NodeJS.Signals = 'SIGTERM') {
      await providers[i].proc.stop(signal)
      providers[i] = await spawnProvider(providers[i].data, providers[i].hv, faults)
    },
    async stop() {
      for (const p of providers) await p.proc.stop()
      await hub.stop()
      await dht.stop()
    },
  }
}
