// Read requests per second from one client to a real hub over the real transport (HyperDHT on
// loopback, Noise, protomux market@1), with a window of requests in flight as a busy TUI would.
import createTestnet from 'hyperdht/testnet.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import DHT from 'hyperdht'
import { Hub } from '../../src/hub/hub.ts'
import { MarketClient } from '../../src/client/market-client.ts'
import type { BenchRow } from './table.ts'

export async function transportBench(opts: { requests?: number; window?: number } = {}): Promise<BenchRow[]> {
  const requests = opts.requests ?? 20_000
  const window = opts.window ?? 64
  const testnet = await createTestnet(3)
  const dir = await mkdtemp(join(tmpdir(), 'virtuoso-bench-'))
  const hub = new Hub({ dir, dht: testnet.createNode(), keyPair: DHT.keyPair() })
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
