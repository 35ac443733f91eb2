// Dials between processes, the way users make them: `virtuoso dht` and a hub in their own
// processes, and every dialer a new process with a new DHT node. With the server's DHT node left
// at HyperDHT's defaults (firewalled) 6 of 10 such dials were half-open here (the dialer saw
// `open`, the hub never saw the connection); clients and server in one process never showed it.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { execa } from 'execa'
import { join } from 'node:path'
import { ROOT, spawnVirtuoso, tempDir, type Proc, TEST_COST } from '../e2e/harness.ts'

const DIALS = 10
let root: Awaited<ReturnType<typeof tempDir>>
let dht: Proc
let hub: Proc
let bootstrap = ''
let market = ''

beforeAll(async () => {
  root = await tempDir('virtuoso-dial-')
  dht = spawnVirtuoso(['dht', '--port', '0'])
  bootstrap = (await dht.waitFor(/listening on (\S+)/))[1]
  hub = spawnVirtuoso([
    'node',
    '--hub',
    '--hv',
    'test',
    '--data',
    join(root.path, 'hub'),
    '--bootstrap',
    bootstrap,
    ...TEST_COST,
  ])
  market = (await hub.waitFor(/market key: ([0-9a-f]{64})/))[1]
})

afterAll(async () => {
  await hub?.stop()
  await dht?.stop()
  await root?.remove()
})

it(`opens the first channel on the first attempt in ${DIALS} of ${DIALS} dials from new processes`, async () => {
  const results = []
  for (let i = 0; i < DIALS; i++) {
    const r = await execa('node', ['bin/run-ts.js', 'test/net/dial-once.ts', bootstrap, market], { cwd: ROOT })
    results.push(JSON.parse(r.stdout.trim().split('\n').pop()!))
  }
  expect(results.filter((r) => !r.ok)).toEqual([])
  expect(results.every((r) => r.market === market)).toBe(true)
})
