// `admin export / import / verify` as an operator runs them: against a running hub process (export
// and verify through its admin socket, import refused), then on stopped data directories, where an
// import killed with SIGKILL halfway leaves its target as it was and the next import succeeds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { stat } from 'node:fs/promises'
import { cli, spawnVirtuoso, startMarket, tempDir } from './harness.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'
import { Market } from '../../src/market/market.ts'
import { Store } from '../../src/market/store.ts'
import { exportFile, exportStopped } from '../../src/hub/export-file.ts'
import { FakeGateway } from '../market/helpers.ts'

let root: Awaited<ReturnType<typeof tempDir>>
let market: Awaited<ReturnType<typeof startMarket>> | null = null
const op = (args: string[]) => cli(join(root.path, 'home-op'), [...args, '--json'])

beforeAll(async () => {
  root = await tempDir()
  market = await startMarket(root.path, { providers: 0, billingIntervalMs: 100 })
}, 60_000)

afterAll(async () => {
  await market?.stop()
  await root?.remove()
})

/** A balanced export of `filler` event rows (and their change rows) plus one funded account. */
async function bigExport(dir: string, filler: number): Promise<{ file: string; rows: number; sha256: string }> {
  const m = await Market.open({ dir: join(dir, 'hub'), gateway: new FakeGateway(), scryptN: TEST_SCRYPT_N })
  try {
    await m.signup({ username: 'alice', type: 'buyer', email: 'a@example.org', password: 'correct horse' })
    await m.credit('alice', 5_000_000)
    for (let k = 0; k < filler / 10_000; k++)
      await m.db.write(
        Array.from({ length: 10_000 }, (_, i) => ({
          type: 'append' as const,
          table: 'events' as const,
          value: { time: 1, origin: 'hub', type: 'test.fill', message: `filler ${k}-${i}`, users: [] },
        })),
      )
    return await exportFile(m.db, join(dir, 'big.jsonl'))
  } finally {
    await m.close()
  }
}

describe('admin export, import and verify', () => {
  it('a running hub exports and verifies while it bills; import into it is refused', async () => {
    const hub = join(root.path, 'hub')
    const su = await cli(
      join(root.path, 'home-alice'),
      ['signup', '--user', 'alice', '--type', 'buyer', '--email', 'a@example.org', '--password-stdin', '--json'],
      { env: market!.env, input: 'alice-password\n' },
    )
    expect(su.exitCode).toBe(0)
    expect((await op(['admin', 'credit', 'alice', '12.5', '--data', hub])).exitCode).toBe(0)
    const file = join(root.path, 'live.jsonl')
    const ex = await op(['admin', 'export', file, '--data', hub])
    expect(ex.exitCode).toBe(0)
    expect(ex.json).toMatchObject({ file, ledgerSeq: 1 })
    const v = await op(['admin', 'verify', '--data', hub])
    expect(v.json).toMatchObject({ ok: true, ledgerSeq: 1, accounts: 1, differences: [] })
    const im = await op(['admin', 'import', file, '--data', hub])
    expect(im.exitCode).toBe(1)
    expect(im.json.error.code).toBe('MARKET_HUB_RUNNING')

    await market!.stop()
    market = null
    const offline = await op(['admin', 'verify', '--data', hub])
    expect(offline.json).toMatchObject({ ok: true, ledgerSeq: 1 })
    const into = join(root.path, 'copy')
    const copied = await op(['admin', 'import', file, '--data', into])
    expect(copied.json).toMatchObject({ ledgerSeq: 1, accounts: 1 })
    const again = await op(['admin', 'export', join(root.path, 'again.jsonl'), '--data', into])
    expect(again.json.sha256).toBe(ex.json.sha256)

    // A balance changed behind the ledger's back: verify names the account and exits non-zero.
    const s = await Store.open(join(into, 'hub'))
    const alice = s.get('users', 'alice')!
    await s.write([{ type: 'put', table: 'users', key: 'alice', value: { ...alice, balance: alice.balance + 3 } }])
    await s.close()
    const bad = await cli(join(root.path, 'home-op'), ['admin', 'verify', '--data', into])
    expect(bad.exitCode).toBe(1)
    expect(bad.stdout).toMatch(/alice\s+12\.500003\s+12\.5\s+0\.000003/)
  })

  it('an import killed halfway (SIGKILL) leaves the target as it was; the next one succeeds', async () => {
    const src = join(root.path, 'src')
    const big = await bigExport(src, 150_000)
    const target = join(root.path, 'target')
    await (await Market.open({ dir: join(target, 'hub'), gateway: new FakeGateway(), scryptN: TEST_SCRYPT_N })).close() // a fresh hub
    const before = await exportStopped(join(target, 'hub'), join(root.path, 'before.jsonl'))

    const child = spawnVirtuoso(['admin', 'import', big.file, '--data', target])
    const [, done, total] = await child.waitFor(/importing: (\d+) of (\d+) rows/, 120_000)
    child.proc.kill('SIGKILL')
    const r = await child.proc
    expect(r.signal).toBe('SIGKILL')
    expect(Number(done)).toBeLessThan(Number(total))
    expect((await stat(join(target, 'hub.import'))).isDirectory()).toBe(true) // it was halfway
    const after = await exportStopped(join(target, 'hub'), join(root.path, 'after.jsonl'))
    expect(after).toMatchObject({ rows: before.rows, ledgerSeq: before.ledgerSeq, sha256: before.sha256 })

    const ok = await op(['admin', 'import', big.file, '--data', target])
    expect(ok.exitCode).toBe(0)
    expect(ok.json.rows).toBe(big.rows)
    await expect(stat(join(target, 'hub.import'))).rejects.toMatchObject({ code: 'ENOENT' })
    expect((await exportStopped(join(target, 'hub'), join(root.path, 'final.jsonl'))).sha256).toBe(big.sha256)
    expect((await op(['admin', 'verify', '--data', target])).json).toMatchObject({ ok: true, ledgerSeq: 1 })
  })
})
