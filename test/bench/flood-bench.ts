// `npm run bench -- flood` (issue 11, "Proof"): a real hub and provider (`virtuoso node`, their own
// processes) on loopback; a flooder process (flood-peer.ts) sends malformed frames, oversized frames
// and 1,000 logins a second from one key for FLOOD_LOGINS logins, while a buyer's client searches in
// a loop. Reported: the search latency during the flood beside the same search with no flood (the
// peer, measured in this run), the hub's memory before, at its peak and after, and what the hub
// refused. Bounded by counts: the flood ends when the flooder's last login is answered. The hub runs at
// the production scrypt cost (no --scrypt-cost): each login it checks costs a 2^17 hash, 128 MiB.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { spawnVirtuoso, type Child } from '../../src/cli/child.ts'
import { MarketClient } from '../../src/client/market-client.ts'
import { parseBootstrap } from '../../src/net/dht.ts'
import type { BenchRow } from './table.ts'
import type { FloodCounts } from './flood-peer.ts'

const FLOOD_LOGINS = Number(process.env.FLOOD_LOGINS ?? 10_000)
const BASELINE_SEARCHES = 500
const ROOT = resolve(import.meta.dirname, '../..')
const MiB = 1024 * 1024

async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return Number(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))].toFixed(1))
}

async function timedSearch(c: MarketClient): Promise<number> {
  const t = performance.now()
  await c.call('search', { config: 'small' })
  return performance.now() - t
}

export async function floodBench(): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'virtuoso-flood-bench-'))
  const procs: Child[] = []
  const clients: MarketClient[] = []
  try {
    const dht = spawnVirtuoso(['dht', '--port', '0'])
    procs.push(dht)
    const [, bootstrap] = await dht.waitFor(/listening on (\S+)/)
    const hub = spawnVirtuoso(['node', '--hub', '--data', join(dir, 'hub'), '--bootstrap', bootstrap])
    procs.push(hub)
    const [, market] = await hub.waitFor(/market key: ([0-9a-f]{64})/)
    const prov = spawnVirtuoso(['node', '--data', join(dir, 'p'), '--market', market, '--bootstrap', bootstrap])
    procs.push(prov)
    const [, pairing] = await prov.waitFor(/pairing code: (\S+)/)
    const connect = async (token = '') => {
      const c = await MarketClient.connect({
        marketKey: Buffer.from(market, 'hex'),
        bootstrap: parseBootstrap(bootstrap),
        token,
      })
      clients.push(c)
      return c
    }
    const setup = await connect()
    for (const [username, type] of [
      ['prov', 'provider'],
      ['alice', 'buyer'],
      ['bob', 'buyer'],
    ] as const)
      await setup.call('signup', { username, type, email: `${username}@example.org`, password: 'correct horse' })
    setup.token = (await setup.call('login', { username: 'prov', password: 'correct horse' })).token
    const sheet = { speedUnit: 100, speedPrice: '0.0001', memoryUnit: 64, memoryPrice: '0.0001', runningPeriod: 60 }
    const more = { storageUnit: 1024, storagePrice: '0.0001', storagePeriod: 60 }
    for (let i = 0; ; i++) {
      try {
        await setup.call('pm.add', { pairing, name: 'pm1', ...sheet, ...more })
        break
      } catch (err) {
        // The node printed its code before its hello reached the hub: ask again.
        if ((err as { code?: string }).code !== 'MARKET_PAIRING_INVALID' || i > 50) throw err
        await new Promise((r) => setTimeout(r, 300))
      }
    }
    const searcher = await connect()
    searcher.token = (await searcher.call('login', { username: 'bob', password: 'correct horse' })).token

    const hubPid = hub.proc.pid!
    const baseline: number[] = []
    for (let i = 0; i < BASELINE_SEARCHES; i++) baseline.push(await timedSearch(searcher))
    const rssBefore = await rssOf(hubPid)

    const flooder = spawnVirtuoso(
      [join(ROOT, 'test/bench/flood-peer.ts'), market, bootstrap, String(FLOOD_LOGINS), 'alice,prov'],
      {
        entry: [join(ROOT, 'bin/run-ts.js')],
      },
    )
    procs.push(flooder)
    let over = false
    const result = flooder.waitFor(/^\{.*\}$/, 600_000).finally(() => (over = true))
    const during: number[] = []
    let rssPeak = rssBefore
    let lastSample = 0
    while (!over) {
      during.push(await timedSearch(searcher))
      if (performance.now() - lastSample > 100) {
        lastSample = performance.now()
        rssPeak = Math.max(rssPeak, await rssOf(hubPid))
      }
    }
    const counts = JSON.parse((await result)[0]) as FloodCounts
    const rssAfter = await rssOf(hubPid)
    const refused = (counts.loginAnswers.NODE_RATE_LIMITED ?? 0) + (counts.loginAnswers.NODE_BUSY ?? 0)
    const checked = counts.loginAnswers.MARKET_BAD_CREDENTIALS ?? 0
    const rate = Math.round(counts.loginsSent / (Math.max(1, counts.loginSendMs) / 1000))
    return [
      {
        name: `search p99 while one peer floods (${during.length} searches)`,
        value: pct(during, 99),
        unit: 'ms',
        peer: pct(baseline, 99),
        peerName: `same search, no flood, ${BASELINE_SEARCHES} searches`,
        target: '< 100 ms',
      },
      {
        name: 'search p50 while one peer floods',
        value: pct(during, 50),
        unit: 'ms',
        peer: pct(baseline, 50),
        peerName: 'same search, no flood',
        target: '-',
      },
      {
        name: 'hub RSS before / peak / after the flood',
        value: `${(rssBefore / MiB).toFixed(0)} / ${(rssPeak / MiB).toFixed(0)} / ${(rssAfter / MiB).toFixed(0)}`,
        unit: 'MiB',
        target: 'bounded (peak - before < 512 MiB: two 128 MiB scrypts at most, plus buffers)',
      },
      {
        name: `logins refused (of ${counts.loginsSent} sent at ${rate}/s; ${checked} checked, wrong password)`,
        value: refused,
        unit: 'logins',
        target: `>= ${counts.loginsSent - 100}`,
      },
      {
        name: 'malformed-frame connections dropped / oversized requests refused',
        value: `${counts.malformedDropped}/${counts.malformedSent}, ${counts.oversizedRefused}/${counts.oversizedSent}`,
        unit: '',
        target: 'all',
      },
    ]
  } finally {
    for (const c of clients) await c.close().catch(() => {})
    for (const p of procs.reverse()) await p.stop().catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
  }
}
