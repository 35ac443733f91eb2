// Provider-side events reach the hub's event log (issue 11 item 12; report §6.1.10), with the local
// fallback: while the hub is down they wait in the provider's own log (a file) and are replayed in
// order once a restarted hub answers; nothing lost, nothing twice. A real Hub and ProviderAgent on
// a loopback testnet, the test driver's guest powers itself off during the outage.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import createTestnet from 'hyperdht/testnet.js'
import DHT from 'hyperdht'
import { Hub } from '../../src/hub/hub.ts'
import { ProviderAgent } from '../../src/provider/agent.ts'
import { EventLog } from '../../src/provider/event-log.ts'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import { newPairingCode } from '../../src/market/pairing.ts'
import { SHEET } from '../market/helpers.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

let testnet: Awaited<ReturnType<typeof createTestnet>>
let dir: string
let hub: Hub
let hv: Hypervisor
let agent: ProviderAgent
const hubKeys = DHT.keyPair()
const nodeKeys = DHT.keyPair()
const pairingCode = newPairingCode()
const alice = { username: 'alice', type: 'buyer' as const }
const prov = { username: 'prov', type: 'provider' as const }

async function startHub(): Promise<Hub> {
  const h = new Hub({ dir: join(dir, 'hub'), dht: testnet.createNode(), keyPair: hubKeys, scryptN: TEST_SCRYPT_N })
  await h.start()
  return h
}

async function startAgent(): Promise<ProviderAgent> {
  const a = new ProviderAgent({
    dht: testnet.createNode(),
    keyPair: nodeKeys,
    marketKey: hubKeys.publicKey,
    hv,
    pairingCode,
    retryMs: 50,
    maxRetryMs: 200,
    exitPollMs: 50,
    events: await EventLog.open(join(dir, 'events')),
  })
  a.start()
  return a
}

/** Resolves once the hub has acknowledged every event the agent holds. */
function drained(a: ProviderAgent): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (a.events.pending().length) return
      a.events.off('ack', check)
      resolve()
    }
    a.events.on('ack', check)
    check()
  })
}

/** The provider's own reports in the hub's log (not what the hub did about them), in log order. */
async function nodeEvents(): Promise<string[]> {
  return (await hub.market.logAll({}))
    .filter((e) => e.type.startsWith('node.') && e.type !== 'node.online' && e.type !== 'node.offline')
    .map((e) => `${e.type}: ${e.message.replace(/ \(seen by the provider at .*\)$/, '')}`)
}

beforeEach(async () => {
  testnet = await createTestnet(3)
  dir = await mkdtemp(join(tmpdir(), 'virtuoso-events-'))
  hub = await startHub()
  hv = await Hypervisor.open({ driver: 'test', dir: join(dir, 'machines') })
  agent = await startAgent()
  await agent.connected
  const m = hub.market
  await m.signup({ username: 'prov', type: 'provider', email: 'p@example.org', password: 'correct horse' })
  await m.signup({ username: 'alice', type: 'buyer', email: 'a@example.org', password: 'correct horse' })
  await m.credit('alice', 100_000_000)
  await m.pmAdd(prov, { pairing: pairingCode, name: 'pm1', ...SHEET })
})
afterEach(async () => {
  await agent.close()
  await hub.close().catch(() => {})
  await hv.close()
  await testnet.destroy()
  await rm(dir, { recursive: true, force: true })
})

describe('provider events', () => {
  it('reach the log in order across a hub restart, each once, from the local log', async () => {
    await agent.report({ type: 'note', message: 'one' })
    await drained(agent)
    expect(await nodeEvents()).toEqual(['node.note: one'])

    const vm = await hub.market.register(alice, { config: 'small' })
    const pm = [...hub.market.ctx.store.values('pm')][0]
    await hub.market.store(alice, vm.id, pm.id)
    await hub.market.start(alice, vm.id)
    await hub.close()
    await agent.report({ type: 'note', message: 'two' })
    const exited = new Promise((r) => hv.once('exit', r))
    const term = await hv.console(vm.id)
    term.resume()
    term.write('poweroff\n')
    await exited
    await agent.report({ type: 'note', message: 'three' })
    // Kept on the provider's disk while there is no hub.
    const file = await readFile(join(dir, 'events', 'events.jsonl'), 'utf8')
    expect(
      file
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).message),
    ).toEqual(['one', 'two', `machine ${vm.id} stopped by itself (powered off or crashed)`, 'three'])
    expect(agent.events.pending().map((e) => e.message)).toHaveLength(3)

    hub = await startHub()
    await drained(agent)
    expect(await nodeEvents()).toEqual([
      'node.note: one',
      'node.note: two',
      `node.vm.exited: machine ${vm.id} stopped by itself (powered off or crashed)`,
      'node.note: three',
    ])
    // The buyer sees the event about their machine, not the provider's other notes.
    const own = (await hub.market.log(alice)).filter((e) => e.type.startsWith('node.'))
    expect(own.map((e) => e.type)).toEqual(['node.vm.exited'])
  })

  it('survive a provider restart during the outage, and a resent event is taken once', async () => {
    await hub.close()
    await agent.report({ type: 'note', message: 'kept on disk' })
    await agent.close()
    agent = await startAgent()
    expect(agent.events.pending().map((e) => e.message)).toEqual(['kept on disk'])
    hub = await startHub()
    await drained(agent)
    expect(await nodeEvents()).toEqual(['node.note: kept on disk'])
    // An answer lost on the way back: the provider sends the same event again.
    const again = { type: 'note', message: 'kept on disk', seq: 1, epoch: agent.events.epoch, at: Date.now() }
    await expect(hub.market.nodeEvent(agent.nodeKey, again)).resolves.toMatchObject({ duplicate: true })
    expect(await nodeEvents()).toEqual(['node.note: kept on disk'])
  })
})
