// A provider agent killed with SIGKILL leaves its QEMU guests running; restarted, it finds them
// again and the market can drive them as before (issue 3: QEMU runs detached from the agent).
import { afterAll, beforeAll, expect, it } from 'vitest'
import { join } from 'node:path'
import { execa } from 'execa'
import { cli, spawnVirtuoso, startMarket, tempDir, TEST_COST } from './harness.ts'
import { setUpUsers } from './users.ts'
import { providerNodeArgs } from '../../src/cli/child.ts'

let root: Awaited<ReturnType<typeof tempDir>>
let market: Awaited<ReturnType<typeof startMarket>>
const home = (who: string) => join(root.path, 'home-' + who)
const as = (who: string, args: string[], input?: string) =>
  cli(home(who), [...args, '--json'], { env: market.env, input })

beforeAll(async () => {
  root = await tempDir()
  market = await startMarket(root.path, { providers: 1, hv: 'qemu' })
}, 60_000)

afterAll(async () => {
  await market?.stop()
  // no guest outlives the test, whatever happened above
  await execa('pkill', ['-9', '-f', root.path], { reject: false })
  await root?.remove()
})

async function qemuRunning(): Promise<boolean> {
  const r = await execa('pgrep', ['-f', `qemu-system-x86_64.*${root.path}`], { reject: false })
  return r.exitCode === 0
}

it('keeps the guest running across an agent kill -9, and the restarted agent drives it', async () => {
  const { pms } = await setUpUsers(as, {
    users: [
      ['prov', 'provider'],
      ['buyer', 'buyer'],
    ],
    hubData: join(root.path, 'hub'),
    credit: ['buyer', '50'],
    pairings: [market.providers[0].pairing],
    pmName: () => 'box',
  })
  const pm = { id: pms[0] }
  expect(pm.id).toBeTruthy()
  const vm = (await as('buyer', ['register', '--config', 'linux-small'])).json.id
  expect((await as('buyer', ['store', vm, '--on', pm.id])).json.state).toBe('stored')
  const started = (await as('buyer', ['start', vm])).json
  expect(started.state).toBe('started')
  expect(await qemuRunning()).toBe(true)

  const p0 = market.providers[0]
  await p0.proc.stop('SIGKILL')
  expect(await qemuRunning()).toBe(true)
  const { market: key, bootstrap } = market
  p0.proc = spawnVirtuoso(providerNodeArgs({ data: p0.data, market: key, bootstrap, hv: 'qemu', extra: TEST_COST }))
  await p0.proc.waitFor(/node key: ([0-9a-f]{64})/)
  expect((await p0.proc.waitFor(/node key: ([0-9a-f]{64})/))[1]).toBe(p0.nodeKey)

  let stopped: any
  for (let i = 0; i < 30; i++) {
    stopped = (await as('buyer', ['stop', vm])).json
    // Until the restarted agent says hello, the hub may still hold the killed agent's dead connection:
    // a command sent on it fails with "nothing was changed, try again", as a user would then do.
    if (!/OFFLINE|PROVIDER_FAILED/.test(stopped.error?.code ?? '')) break
    await new Promise((r) => setTimeout(r, 500))
  }
  expect(stopped).toMatchObject({ state: 'stopped', version: started.version + 1 })
  expect(await qemuRunning()).toBe(false)
}, 120_000)
