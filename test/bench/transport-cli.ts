// One-shot CLI calls as a user makes them: `virtuoso dht` and a hub (test hypervisor) as processes,
// then `virtuoso configs --json` N times in a row, each a new process with a new DHT node. Each
// call's wall time, and its time to first channel and attempt count from the dial's debug line
// (src/net/dial.ts). Beside them, in the same run: `virtuoso --help` (the process alone) and one
// market@1 round trip on an open loopback connection.
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnVirtuoso, VIRTUOSO_BIN } from '../../src/cli/child.ts'
import { MarketClient } from '../../src/client/market-client.ts'
import { parseBootstrap } from '../../src/net/dht.ts'
import { TEST_COST } from '../scrypt-cost.ts'

export interface CliCalls {
  wallMs: number[]
  firstChannelMs: number[]
  attempts: number[]
  helpMs: number[]
  roundTripMs: number[]
  bootstrap: string
  market: string
}

function run(args: string[], env: Record<string, string>): Promise<{ ms: number; stderr: string }> {
  const t0 = performance.now()
  return new Promise((resolve, reject) =>
    execFile('node', [VIRTUOSO_BIN, ...args], { env: { ...process.env, ...env } }, (err, _out, stderr) => {
      if (err) reject(new Error(`virtuoso ${args.join(' ')} failed: ${stderr.trim()}`))
      else resolve({ ms: performance.now() - t0, stderr })
    }),
  )
}

export const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)])
}

/** Starts a DHT and a hub, makes `calls` one-shot calls; `during` runs while they are up. */
export async function cliCalls(
  calls: number,
  during?: (m: { bootstrap: string; market: string; dir: string }) => Promise<void>,
): Promise<CliCalls> {
  const dir = await mkdtemp(join(tmpdir(), 'virtuoso-bench-cli-'))
  const dht = spawnVirtuoso(['dht', '--port', '0'])
  let hub: ReturnType<typeof spawnVirtuoso> | null = null
  try {
    const bootstrap = (await dht.waitFor(/listening on (\S+)/))[1]
    hub = spawnVirtuoso([
      'node',
      '--hub',
      '--hv',
      'test',
      '--data',
      join(dir, 'hub'),
      '--bootstrap',
      bootstrap,
      ...TEST_COST,
    ])
    const market = (await hub.waitFor(/market key: ([0-9a-f]{64})/))[1]
    const env = { VIRTUOSO_HOME: join(dir, 'home'), VIRTUOSO_DEBUG: '1' }
    const out: CliCalls = {
      wallMs: [],
      firstChannelMs: [],
      attempts: [],
      helpMs: [],
      roundTripMs: [],
      bootstrap,
      market,
    }
    for (let i = 0; i < 10; i++) out.helpMs.push((await run(['--help'], env)).ms)
    for (let i = 0; i < calls; i++) {
      const r = await run(['configs', '--json', '--market', market, '--bootstrap', bootstrap], env)
      const m = /first channel open after (\d+) ms, attempt (\d+)/.exec(r.stderr)
      if (!m) throw new Error(`no dial line in: ${r.stderr.trim()}`)
      out.wallMs.push(r.ms)
      out.firstChannelMs.push(Number(m[1]))
      out.attempts.push(Number(m[2]))
    }
    const client = await MarketClient.connect({
      marketKey: Buffer.from(market, 'hex'),
      bootstrap: parseBootstrap(bootstrap),
    })
    try {
      for (let i = 0; i < 50; i++) await client.call('configs') // warm up
      for (let i = 0; i < 200; i++) {
        const t0 = performance.now()
        await client.call('configs')
        out.roundTripMs.push(performance.now() - t0)
      }
    } finally {
      await client.close()
    }
    await during?.({ bootstrap, market, dir })
    return out
  } finally {
    await hub?.stop()
    await dht.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
