// Export benchmarks (issue 15): `admin export`, `admin import` and `admin verify` of a hub with
// 100,000 machines (the market bench's seed, plus one billing pass: 100,000 ledger entries), each
// timed as the whole CLI command an operator waits for. Peer, same run: `cp -r` of the stopped
// hub's LevelDB directory, the least any switch of databases has to do.
// Run alone: node bin/run-ts.js test/bench/export-bench.ts
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { Market } from '../../src/market/market.ts'
import { VIRTUOSO_BIN } from '../../src/cli/child.ts'
import type { ProviderGateway } from '../../src/market/gateway.ts'
import { seed } from './market-bench.ts'
import type { BenchRow } from './table.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

const run = promisify(execFile)
const gateway: ProviderGateway = {
  online: () => true,
  command: async (_k, _m, p: any) => ({ version: (p.version ?? 0) + 1 }),
}

async function timed(cmd: string, args: string[]): Promise<{ s: number; stdout: string }> {
  const t = performance.now()
  const r = await run(cmd, args, { maxBuffer: 1 << 20 })
  return { s: +((performance.now() - t) / 1000).toFixed(2), stdout: r.stdout }
}

export async function exportBench(): Promise<BenchRow[]> {
  const root = await mkdtemp(join(tmpdir(), 'virtuoso-export-bench-'))
  try {
    const t0 = Date.UTC(2025, 0, 1)
    const clock = { t: t0 }
    const m = await Market.open({ dir: join(root, 'a', 'hub'), gateway, clock: () => clock.t, scryptN: TEST_SCRYPT_N })
    await seed(m)
    // The seed sets balances directly; money enters through deposits, so the ledger holds them.
    const users = [...m.db.values('users')]
    await m.db.write(
      users.map((u) => ({
        type: 'put' as const,
        table: 'users' as const,
        key: u.username,
        value: { ...u, balance: 0 },
      })),
    )
    for (const u of users) if (u.type === 'buyer') await m.credit(u.username, 1e12)
    clock.t = t0 + 86_400_000
    await m.billingPass()
    const ledger = m.db.seq('ledger')
    await m.close()

    const file = join(root, 'market.jsonl')
    const cli = (args: string[]) => timed(process.execPath, [VIRTUOSO_BIN, ...args, '--json'])
    const ex = await cli(['admin', 'export', file, '--data', join(root, 'a')])
    const rows = JSON.parse(ex.stdout).rows as number
    const cp = await timed('cp', ['-r', join(root, 'a', 'hub'), join(root, 'copy')])
    const im = await cli(['admin', 'import', file, '--data', join(root, 'b')])
    if (JSON.parse(im.stdout).rows !== rows) throw new Error('import lost rows')
    const ve = await cli(['admin', 'verify', '--data', join(root, 'b')])
    if (!JSON.parse(ve.stdout).ok) throw new Error('verify found differences')
    const what = `${rows.toLocaleString('en')} rows, ${ledger.toLocaleString('en')} ledger entries`
    const peer = { peer: cp.s, peerName: 'cp -r of the LevelDB dir' }
    return [
      { name: `admin export (${what})`, value: ex.s, unit: 's', target: '-', ...peer },
      { name: `admin import (${what}, checked and replayed)`, value: im.s, unit: 's', target: '-', ...peer },
      { name: `admin verify (${ledger.toLocaleString('en')} entries replayed)`, value: ve.s, unit: 's', target: '-' },
    ]
  } finally {
    await rm(root, { recursive: true, force: true })
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await exportBench()
  console.table(rows)
}
