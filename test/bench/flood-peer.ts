// The flooder of the flood test (issue 11, "Proof"): one peer key that sends the hub malformed
// frames, oversized frames and a stream of logins at a set rate, and counts how the hub answered.
// Bounded by counts, not by time: it stops when every login it sent was answered. Run in-process
// (the CI test) or as its own process (`npm run bench -- flood`, so its work does not share the
// measuring client's event loop): `node bin/run-ts.js test/bench/flood-peer.ts KEY HOST:PORT [logins]`.
import type DHT from 'hyperdht'
import HyperDHT from 'hyperdht'
import type { KeyPair, NoiseSocket } from 'hyperdht'
import Protomux from 'protomux'
import c from 'compact-encoding'
import { RpcChannel, MAX_BODY_BYTES } from '../../src/net/rpc.ts'
import { PROTOCOLS } from '../../src/net/protocols.ts'
import { createDhtNode, parseBootstrap, type Bootstrap } from '../../src/net/dht.ts'

export interface FloodPlan {
  marketKey: Buffer
  bootstrap: Bootstrap
  /** Logins to send, at `loginRate` per second, with wrong passwords for real and unknown names. */
  logins: number
  loginRate: number
  /** Connections that each send one frame protomux cannot decode (the hub drops each). */
  malformed: number
  /** Requests with a body over the limit (each sent in full, MAX_BODY_BYTES + 1 bytes). */
  oversized: number
  /** Accounts whose names the logins use (one in four is a name that does not exist). */
  accounts: string[]
}

export interface FloodCounts {
  loginsSent: number
  /** By answer code: NODE_RATE_LIMITED, NODE_BUSY, MARKET_BAD_CREDENTIALS, ... */
  loginAnswers: Record<string, number>
  malformedSent: number
  /** Connections the hub closed after a malformed frame. */
  malformedDropped: number
  oversizedSent: number
  oversizedRefused: number
  /** From the first login sent to the last (the rate achieved is loginsSent / loginSendMs). */
  loginSendMs: number
  ms: number
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function flood(plan: FloodPlan): Promise<FloodCounts> {
  const dht = createDhtNode(plan.bootstrap)
  const keyPair: KeyPair = HyperDHT.keyPair() // one peer: every connection below proves this key
  const counts: FloodCounts = {
    loginsSent: 0,
    loginAnswers: {},
    malformedSent: 0,
    malformedDropped: 0,
    oversizedSent: 0,
    oversizedRefused: 0,
    loginSendMs: 0,
    ms: 0,
  }
  const t0 = performance.now()
  try {
    await Promise.all([
      logins(dht, keyPair, plan, counts),
      malformed(dht, keyPair, plan, counts),
      oversized(dht, keyPair, plan, counts),
    ])
  } finally {
    counts.ms = Math.round(performance.now() - t0)
    await dht.destroy()
  }
  return counts
}

async function connect(dht: DHT, keyPair: KeyPair, plan: FloodPlan): Promise<{ socket: NoiseSocket; mux: Protomux }> {
  const socket = dht.connect(plan.marketKey, { keyPair })
  socket.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve())
    socket.once('close', () => reject(new Error('the hub closed the connection before it opened')))
  })
  return { socket, mux: Protomux.from(socket) }
}

async function logins(dht: DHT, keyPair: KeyPair, plan: FloodPlan, counts: FloodCounts): Promise<void> {
  const { socket, mux } = await connect(dht, keyPair, plan)
  const rpc = new RpcChannel(mux, { protocol: PROTOCOLS.market, timeoutMs: 120_000 })
  await rpc.opened
  const answers: Promise<void>[] = []
  const perTick = Math.max(1, Math.round(plan.loginRate / 100))
  const start = performance.now()
  while (counts.loginsSent < plan.logins) {
    for (let i = 0; i < perTick && counts.loginsSent < plan.logins; i++) {
      const n = counts.loginsSent++
      const username = n % 4 === 3 ? `nobody-${n}` : plan.accounts[n % plan.accounts.length]
      answers.push(
        rpc.request('login', { username, password: `guess-${n}` }).then(
          () => void (counts.loginAnswers.OK = (counts.loginAnswers.OK ?? 0) + 1),
          (err) => {
            const code = (err as { code?: string }).code ?? 'INTERNAL'
            counts.loginAnswers[code] = (counts.loginAnswers[code] ?? 0) + 1
          },
        ),
      )
    }
    // Hold the rate: the next batch goes when its 10 ms slot comes.
    const due = start + (counts.loginsSent / plan.loginRate) * 1000
    await tick(Math.max(0, due - performance.now()))
  }
  counts.loginSendMs = Math.round(performance.now() - start)
  await Promise.all(answers)
  socket.destroy()
}

async function malformed(dht: DHT, keyPair: KeyPair, plan: FloodPlan, counts: FloodCounts): Promise<void> {
  for (let i = 0; i < plan.malformed; i++) {
    const { socket, mux } = await connect(dht, keyPair, plan)
    const closed = new Promise<void>((r) => socket.once('close', () => r()))
    const ch = mux.createChannel({ protocol: PROTOCOLS.market })!
    const junk = ch.addMessage({ encoding: c.raw })
    ch.open()
    // A uint that never ends: protomux cannot decode the frame, so the hub drops this connection.
    junk.send(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))
    counts.malformedSent++
    await closed
    counts.malformedDropped++
  }
}

async function oversized(dht: DHT, keyPair: KeyPair, plan: FloodPlan, counts: FloodCounts): Promise<void> {
  if (plan.oversized === 0) return
  const { socket, mux } = await connect(dht, keyPair, plan)
  const ch = mux.createChannel({ protocol: PROTOCOLS.market })!
  const req = ch.addMessage({ encoding: c.raw })
  let answered = 0
  let wake: () => void = () => {}
  ch.addMessage({
    encoding: c.raw,
    onmessage: (b: Buffer) => {
      const s = { start: 0, end: b.length, buffer: b }
      c.uint.decode(s)
      c.bool.decode(s)
      if (JSON.parse(c.string.decode(s)).code === 'NODE_FRAME_TOO_LARGE') counts.oversizedRefused++
      answered++
      wake()
    },
  })
  ch.open()
  const body = Buffer.alloc(MAX_BODY_BYTES + 1, 0x20)
  for (let i = 0; i < plan.oversized; i++) {
    const head = Buffer.concat([c.encode(c.uint, i + 1), c.encode(c.string, 'search'), c.encode(c.string, '')])
    req.send(Buffer.concat([head, c.encode(c.uint, body.length), body]))
    counts.oversizedSent++
    while (answered <= i) await new Promise<void>((r) => (wake = r))
  }
  socket.destroy()
}

if (process.argv[1]?.endsWith('flood-peer.ts')) {
  const [key, bootstrap, logins = '10000', accounts = 'alice'] = process.argv.slice(2)
  const counts = await flood({
    marketKey: Buffer.from(key, 'hex'),
    bootstrap: parseBootstrap(bootstrap),
    logins: Number(logins),
    loginRate: 1000,
    malformed: 50,
    oversized: 20,
    accounts: accounts.split(','),
  })
  process.stdout.write(JSON.stringify(counts) + '\n')
  process.exit(0)
}
