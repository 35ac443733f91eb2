// A guest that powers itself off, end to end in one process (issue 11, item 11): a real Hub and a
// real ProviderAgent on a loopback testnet, the test driver's guest runs `poweroff` on its console.
// The provider notices, reports, and the hub's market row follows with the same version; the
// report survives a hub that was not reachable when the guest exited.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import createTestnet from 'hyperdht/testnet.js'
import DHT from 'hyperdht'
import { Hub } from '../../src/hub/hub.ts'
import { ProviderAgent } from '../../src/provider/agent.ts'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import { newPairingCode } from '../../src/market/pairing.ts'
import { SHEET } from '../market/helpers.ts'
import type { Market } from '../../src/market/market.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

let testnet: Awaited<ReturnType<typeof createTestnet>>
let dir: string
let hub: Hub
let hv: Hypervisor
let agent: ProviderAgent
const alice = { username: 'alice', type: 'buyer' as const }

/** Resolves when `pred` holds, checked at each committed market change. */
function until(m: Market, pred: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (pred()) return resolve()
    const on = () => {
      if (!pred()) return
      m.off('change', on)
      resolve()
    }
    m.on('change', on)
  })
}

async function startHub(): Promise<Hub> {
  const h = new Hub({ dir: join(dir, 'hub'), dht: testnet.createNode(), keyPair: hubKeys, scryptN: TEST_SCRYPT_N })
  await h.start()
  return h
}
const hubKeys = DHT.keyPair()

beforeEach(async () => {
  testnet = await createTestnet(3)
  dir = await mkdtemp(join(tmpdir(), 'virtuoso-exit-'))
  hub = await startHub()
  hv = await Hypervisor.open({ driver: 'test', dir: join(dir, 'machines') })
  const pairingCode = newPairingCode()
  agent = new ProviderAgent({
    dht: testnet.createNode(),
    keyPair: DHT.keyPair(),
    marketKey: hubKeys.publicKey,
    hv,
    pairingCode,
    retryMs: 50,
    maxRetryMs: 200,
    exitPollMs: 50,
  })
  agent.start()
  await agent.connected
  const m = hub.market
  await m.signup({ username: 'prov', type: 'provider', email: 'p@example.org', password: 'correct horse' })
  await m.signup({ username: 'alice', type: 'buyer', email: 'a@example.org', password: 'correct horse' })
  await m.credit('alice', 100_000_000)
  await m.pmAdd({ username: 'prov', type: 'provider' }, { pairing: pairingCode, name: 'pm1', ...SHEET })
})
afterEach(async () => {
  await agent.close()
  await hub.close().catch(() => {})
  await hv.close()
  await testnet.destroy()
  await rm(dir, { recursive: true, force: true })
})

async function runningVm(): Promise<string> {
  const m = hub.market
  const vm = await m.register(alice, { config: 'small' })
  const pm = [...m.ctx.store.values('pm')][0]
  await m.store(alice, vm.id, pm.id)
  await m.start(alice, vm.id)
  return vm.id
}

async function powerOff(vmId: string): Promise<void> {
  const term = await hv.console(vmId)
  const exited = new Promise((r) => hv.once('exit', r))
  term.resume()
  term.write('poweroff\n')
  await exited
}

describe('a guest that stops by itself', () => {
  it('is stopped in the market at the provider version, and can be started again', async () => {
    const vmId = await runningVm()
    const m = hub.market
    const v = m.ctx.store.get('vm', vmId)!.version
    await powerOff(vmId)
    await until(m, () => m.ctx.store.get('vm', vmId)!.state === 'stopped')
    expect(m.ctx.store.get('vm', vmId)!.version).toBe(v + 1)
    expect((await hv.get(vmId)).version).toBe(v + 1)
    expect((await m.log(alice)).some((e) => e.type === 'vm.exited' && e.vmId === vmId)).toBe(true)
    await m.start(alice, vmId)
    expect((await hv.get(vmId)).state).toBe('running')
  })

  it('is reported once the hub is back when it exited during an outage', async () => {
    const vmId = await runningVm()
    await hub.close()
    await powerOff(vmId)
    hub = await startHub()
    const m = hub.market
    await until(m, () => m.ctx.store.get('vm', vmId)!.state === 'stopped')
    expect(m.ctx.store.get('vm', vmId)!.version).toBe((await hv.get(vmId)).version)
  })
})
