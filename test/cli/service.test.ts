// bin/service.js: `virtuoso node` started as a user or systemd starts it (plain `node bin/virtuoso.js`,
// without Node flags) runs again as a child with SERVICE_FLAGS; the first process stands in for it.
// Real processes: a DHT bootstrap and a hub node, on 127.0.0.1.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { execa } from 'execa'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { SERVICE_FLAGS, needsServiceFlags } from '../../bin/service.js'
import { spawnVirtuoso, VIRTUOSO_BIN, type Child } from '../../src/cli/child.ts'
import { tempDir } from '../e2e/harness.ts'
import { TEST_COST } from '../scrypt-cost.ts'

let root: Awaited<ReturnType<typeof tempDir>>
let dht: Child
let bootstrap = ''

beforeAll(async () => {
  root = await tempDir('virtuoso-service-')
  dht = spawnVirtuoso(['dht', '--port', '0'])
  ;[, bootstrap] = await dht.waitFor(/listening on (\S+)/)
})

afterAll(async () => {
  await dht?.stop()
  await root?.remove()
})

/** A hub node started without flags; resolves once it serves, with the child that runs it. */
async function startHub(name: string) {
  const proc = execa(
    'node',
    [VIRTUOSO_BIN, 'node', '--hub', '--data', join(root.path, name), '--bootstrap', bootstrap, ...TEST_COST],
    {
      reject: false,
      env: { VIRTUOSO_DEBUG: '' },
    },
  )
  let out = ''
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (/market key: [0-9a-f]{64}/.test(out)) resolve()
    })
    proc.once('exit', () => reject(new Error(`the node exited: ${out}`)))
  })
  const { stdout } = await execa('pgrep', ['-P', String(proc.pid)])
  const child = Number(stdout.trim().split('\n')[0])
  return { proc, child }
}

const argv = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
const gone = async (pid: number) => {
  while ((await execa('kill', ['-0', String(pid)], { reject: false })).exitCode === 0)
    await new Promise((r) => setTimeout(r, 50))
}

it('only `node` without the flags is started again', () => {
  expect(needsServiceFlags(['node', '--hub'], [])).toBe(true)
  expect(needsServiceFlags(['node', '--hub'], [...SERVICE_FLAGS])).toBe(false)
  expect(needsServiceFlags(['market', 'list'], [])).toBe(false)
  expect(needsServiceFlags([], [])).toBe(false)
})

it('the benchmarks run with the same flags as the nodes they measure beside the raw transport', () => {
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8'))
  for (const f of SERVICE_FLAGS) expect(pkg.scripts.bench).toContain(f)
})

it('runs the node with the flags, and SIGTERM to the first process stops both cleanly', async () => {
  const { proc, child } = await startHub('hub-a')
  expect(argv(child)).toEqual(expect.arrayContaining([...SERVICE_FLAGS, VIRTUOSO_BIN, 'node', '--hub']))
  proc.kill('SIGTERM')
  const r = await proc
  expect(r.exitCode, r.stderr).toBe(0)
  expect(r.stderr).toMatch(/SIGTERM: shutting down/)
  await gone(child)
})

it('a node whose stand-in was killed (SIGKILL) shuts down by itself', async () => {
  const { proc, child } = await startHub('hub-b')
  proc.kill('SIGKILL')
  await proc
  await gone(child)
})

it('a signal that reaches both (Ctrl-C reaches the whole group) stops the node once, cleanly', async () => {
  const { proc, child } = await startHub('hub-c')
  process.kill(child, 'SIGINT')
  proc.kill('SIGINT')
  const r = await proc
  expect(r.exitCode, r.stderr).toBe(0)
  expect(r.stderr.match(/shutting down/g)).toHaveLength(1)
  await gone(child)
})
