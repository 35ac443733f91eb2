// The transport, each figure beside its peer or target measured in the same run: read requests per
// second from one client to a real hub (HyperDHT on loopback, Noise, protomux market@1) with a
// window in flight as a busy TUI would; one-shot CLI calls (transport-cli.ts); reconnection of a
// provider agent (transport-reconnect.ts); one stream's throughput (transport-stream.ts).
import createTestnet from 'hyperdht/testnet.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import DHT from 'hyperdht'
import { Hub } from '../../src/hub/hub.ts'
import { MarketClient } from '../../src/client/market-client.ts'
import type { BenchRow } from './table.ts'
import { cliCalls, pct } from './transport-cli.ts'
import { reconnects } from './transport-reconnect.ts'
import { streamThroughput } from './transport-stream.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

const ms = (xs: number[]) => `p50 ${pct(xs, 50)} ms, max ${xs.length ? pct(xs, 100) : '-'} ms`
const fmt = (x: number) => (Number.isFinite(x) ? `${Math.round(x)}` : 'none within 30 s')

export async function transportBench(opts: { calls?: number } = {}): Promise<BenchRow[]> {
  const rows = await readsBench()
  const calls = opts.calls ?? 200
  const c = await cliCalls(calls)
  const help = pct(c.helpMs, 50)
  const rtt = Math.round([...c.roundTripMs].sort((a, b) => a - b)[c.roundTripMs.length >> 1] * 10) / 10
  const budget = Math.round(1.5 * help + rtt)
  const within = c.wallMs.filter((x) => x <= budget).length
  rows.push(
    {
      name: `one-shot CLI call (configs --json), p50 of ${calls} (p99 ${pct(c.wallMs, 99)} ms)`,
      value: pct(c.wallMs, 50),
      unit: 'ms',
      peer: help,
      peerName: 'virtuoso --help p50',
      target: `<= 1.5 x --help + 1 round trip (${rtt} ms) = ${budget} ms; ${within}/${calls} within`,
    },
    {
      name: `time to first channel, p50 of ${calls} calls (p99 ${pct(c.firstChannelMs, 99)} ms)`,
      value: pct(c.firstChannelMs, 50),
      unit: 'ms',
      target: `first attempt: ${c.attempts.filter((a) => a === 1).length}/${calls}`,
    },
  )
  const r = await reconnects(5)
  rows.push(
    {
      name: `provider back after the hub's end of its link is killed (${ms(r.dropMs)})`,
      value: pct(r.dropMs, 50),
      unit: 'ms',
      peer: fmt(pct(r.swarmDropMs, 50)),
      peerName: `hyperswarm joinPeer, same fault: ${r.swarmDropMs.map(fmt).join(', ')} ms`,
      target: '<= 5000 ms',
    },
    {
      name: `provider back after a hub restart (${ms(r.restartMs)}; after it listens ${ms(r.afterListenMs)})`,
      value: pct(r.restartMs, 50),
      unit: 'ms',
      peer: fmt(pct(r.swarmRestartMs, 50)),
      peerName: `hyperswarm joinPeer: ${r.swarmRestartMs.map(fmt).join(', ')} ms`,
      target: '<= 5000 ms',
    },
  )
  const testnet = await createTestnet(3)
  try {
    const t = await streamThroughput(testnet.bootstrap, 256)
    rows.push({
      name: 'one stream between two processes, 256 MiB',
      value: t.ours,
      unit: 'MiB/s',
      peer: t.tcp,
      peerName: 'TCP + @hyperswarm/secret-stream',
      target: '-',
    })
  } finally {
    await testnet.destroy()
  }
  return rows
}

async function readsBench(opts: { requests?: number; window?: number } = {}): Promise<BenchRow[]> {
  const requests = opts.requests ?? 20_000
  const window = opts.window ?? 64
  const testnet = await createTestnet(3)
  const dir = await mkdtemp(join(tmpdir(), 'virtuoso-bench-'))
  const hub = new Hub({ dir, dht: testnet.createNode(), keyPair: DHT.keyPair(), scryptN: TEST_SCRYPT_N })
  await hub.start()
  const client = await MarketClient.connect({
    marketKey: hub.publicKey,
    bootstrap: testnet.bootstrap,
    dht: testnet.createNode(),
  })
  try {
    for (let i = 0; i < 500; i++) await client.call('configs') // warm up
    const lat: number[] = []
    const t0 = performance.now()
    let sent = 0
    const worker = async () => {
      while (sent < requests) {
        sent++
        const s = performance.now()
        await client.call('configs')
        lat.push(performance.now() - s)
      }
    }
    await Promise.all(Array.from({ length: window }, worker))
    const secs = (performance.now() - t0) / 1000
    lat.sort((a, b) => a - b)
    return [
      {
        name: `market@1 reads, ${window} in flight`,
        value: Math.round(requests / secs),
        unit: 'req/s',
        target: '>= 5000 req/s',
      },
      {
        name: 'market@1 read latency p50 (under load)',
        value: +lat[Math.floor(lat.length / 2)].toFixed(2),
        unit: 'ms',
        target: '-',
      },
    ]
  } finally {
    await client.close()
    await hub.close()
    await testnet.destroy()
    await rm(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { printTable } = await import('./table.ts')
  printTable('transport', await transportBench())
}
