// Reconnection of a provider agent to its hub, in one process on a loopback testnet: the hub's end
// of the connection destroyed, and the hub restarted on its data (a new DHT node, as a new process
// has). Timed from the fault until the agent's next hello is answered ('hello' event, offlineMs).
// Beside it, in the same run: a hyperswarm client that keeps the same kind of link with joinPeer,
// timed from the same faults until its next 'connection'.
import { EventEmitter, once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import createTestnet from 'hyperdht/testnet.js'
import Hyperswarm from 'hyperswarm'
import DHT, { type NoiseSocket } from 'hyperdht'
import { startNode, type RunningNode } from '../../src/cli/node.ts'
import { createDhtNode } from '../../src/net/dht.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

export interface Reconnects {
  dropMs: number[]
  restartMs: number[]
  /** Of restartMs: from the new hub listening to the agent's hello. */
  afterListenMs: number[]
  swarmDropMs: number[]
  swarmRestartMs: number[]
  swarmAfterListenMs: number[]
}

type Testnet = Awaited<ReturnType<typeof createTestnet>>

/** Our agent: `runs` socket kills and `runs` hub restarts. */
async function agentRuns(testnet: Testnet, runs: number, out: Reconnects): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'virtuoso-bench-reconnect-'))
  let sockets: NoiseSocket[] = []
  const startHub = async () => {
    const dht = createDhtNode(testnet.bootstrap, { serve: true })
    const node = await startNode({
      scryptN: TEST_SCRYPT_N,
      data: join(dir, 'hub'),
      bootstrap: testnet.bootstrap,
      hub: true,
      hv: 'test',
      dht,
    })
    sockets = []
    for (const server of dht.listening) server.on('connection', (s: NoiseSocket) => sockets.push(s))
    return { node, dht }
  }
  let hub = await startHub()
  const prov: RunningNode = await startNode({
    scryptN: TEST_SCRYPT_N,
    data: join(dir, 'prov'),
    bootstrap: testnet.bootstrap,
    market: Buffer.from(hub.node.key, 'hex'),
    hv: 'test',
    dht: createDhtNode(testnet.bootstrap, { serve: true }),
  })
  try {
    await prov.provider!.connected
    for (let i = 0; i < runs; i++) {
      const back = once(prov.provider!, 'hello')
      const t0 = performance.now()
      for (const s of sockets) s.destroy()
      await back
      out.dropMs.push(performance.now() - t0)
    }
    for (let i = 0; i < runs; i++) {
      const back = once(prov.provider!, 'hello')
      const t0 = performance.now()
      await hub.node.close()
      await hub.dht.destroy()
      hub = await startHub()
      const listening = performance.now()
      await back
      out.restartMs.push(performance.now() - t0)
      out.afterListenMs.push(performance.now() - listening)
    }
  } finally {
    await prov.close()
    await hub.node.close()
    await hub.dht.destroy()
    await rm(dir, { recursive: true, force: true })
  }
}

/** A wait that gives up: hyperswarm backs off to minutes after a few failed attempts. */
export const SWARM_WAIT_MS = 30_000
const within = (p: Promise<unknown>) =>
  Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), SWARM_WAIT_MS).unref())])

/** The same faults against a bare HyperDHT server, the client a hyperswarm with joinPeer. A run
 *  that does not reconnect within SWARM_WAIT_MS counts as Infinity and ends the series. */
async function swarmRuns(testnet: Testnet, runs: number, out: Reconnects): Promise<void> {
  const keyPair = DHT.keyPair()
  const sockets: NoiseSocket[] = []
  const arrivals = new EventEmitter()
  const listen = async () => {
    const dht = createDhtNode(testnet.bootstrap, { serve: true })
    const server = dht.createServer((s: NoiseSocket) => {
      s.on('error', () => {})
      sockets.push(s)
      arrivals.emit('socket')
    })
    await server.listen(keyPair)
    return dht
  }
  let server = await listen()
  const swarm = new Hyperswarm({ dht: createDhtNode(testnet.bootstrap) })
  swarm.on('connection', (c: NoiseSocket) => c.on('error', () => {}))
  try {
    // Timed once the server holds its end: the dialer may see 'open' before the server does.
    const held = () => (sockets.length ? Promise.resolve() : once(arrivals, 'socket'))
    swarm.joinPeer(keyPair.publicKey)
    await held()
    for (let i = 0; i < runs; i++) {
      const back = Promise.all([once(swarm, 'connection'), once(arrivals, 'socket')])
      const t0 = performance.now()
      for (const s of sockets.splice(0)) s.destroy()
      if (!(await within(back))) return void out.swarmDropMs.push(Infinity)
      out.swarmDropMs.push(performance.now() - t0)
    }
    for (let i = 0; i < runs; i++) {
      const back = Promise.all([once(swarm, 'connection'), once(arrivals, 'socket')])
      const t0 = performance.now()
      sockets.splice(0).forEach((s) => s.destroy())
      await server.destroy()
      server = await listen()
      const listening = performance.now()
      if (!(await within(back))) return void out.swarmRestartMs.push(Infinity)
      out.swarmRestartMs.push(performance.now() - t0)
      out.swarmAfterListenMs.push(performance.now() - listening)
    }
  } finally {
    await swarm.destroy()
    await server.destroy()
  }
}

export async function reconnects(runs = 5): Promise<Reconnects> {
  const testnet = await createTestnet(3)
  const out: Reconnects = {
    dropMs: [],
    restartMs: [],
    afterListenMs: [],
    swarmDropMs: [],
    swarmRestartMs: [],
    swarmAfterListenMs: [],
  }
  try {
    await agentRuns(testnet, runs, out)
    await swarmRuns(testnet, runs, out)
    return out
  } finally {
    await testnet.destroy()
  }
}
