// `virtuoso doctor` against a real local market, and on a PATH without QEMU (a provider there cannot
// run machines: non-zero exit, each failing line naming its fix).
import { afterAll, beforeAll, expect, it } from 'vitest'
import { execa } from 'execa'
import { join } from 'node:path'
import { BIN, startMarket, tempDir } from './harness.ts'

let root: Awaited<ReturnType<typeof tempDir>>
let market: Awaited<ReturnType<typeof startMarket>>

beforeAll(async () => {
  root = await tempDir()
  market = await startMarket(root.path, { providers: 0 })
}, 60_000)

afterAll(async () => {
  await market?.stop()
  await root?.remove()
})

const doctor = (args: string[], env: Record<string, string> = {}) =>
  execa(process.execPath, [BIN, 'doctor', '--data', join(root.path, 'data'), ...args], {
    reject: false,
    env: { VIRTUOSO_HOME: join(root.path, 'home'), ...env },
  })

it('checks the DHT bootstrap and the hub of the market it is given', async () => {
  const r = await doctor(['--market', market.market, '--bootstrap', market.bootstrap, '--json'])
  const { checks } = JSON.parse(r.stdout)
  const by = (name: string) => checks.find((c: { name: string }) => c.name === name)
  expect(by('dht bootstrap')).toMatchObject({ ok: true })
  expect(by('hub')).toMatchObject({ ok: true })
  expect(by('ssh2 crypto')).toMatchObject({ ok: true })
  expect(by('disk').detail).toContain(join(root.path, 'data'))
})

it('says the hub does not answer, with the fix', async () => {
  const other = 'ab'.repeat(32)
  const r = await doctor(['--market', other, '--bootstrap', market.bootstrap])
  expect(r.stdout).toMatch(/^warn +hub +market abababab…: .*; fix: check --market KEY/m)
}, 60_000)

it('exits non-zero when QEMU is missing, naming the fix on each line', async () => {
  const r = await doctor([], { PATH: join(root.path, 'empty-path') })
  expect(r.exitCode).toBe(1)
  for (const bin of ['qemu-system-x86_64', 'qemu-img', 'qemu-nbd'])
    expect(r.stdout).toMatch(new RegExp(`^FAIL +${bin} +not found; fix: virtuoso setup`, 'm'))
  expect(r.stdout).toContain('a provider on this machine cannot run machines')
})
