// Keystroke-to-echo latency of the console paths on loopback: the guest's own echo (the serial
// stream, here the test driver's fake tty), console@1 over HyperDHT, and the SSH console (ssh2
// client). Target: p50 under 20 ms beyond the guest's own echo.
// Standalone: node bin/run-ts.js test/bench/console-bench.ts
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Duplex } from 'node:stream'
import createTestnet from 'hyperdht/testnet.js'
import DHT from 'hyperdht'
import ssh2 from 'ssh2'
import { ConsoleScreens } from '../../src/console/screens.ts'
import { ConsoleServer } from '../../src/console/server.ts'
import { ConsoleSession } from '../../src/console/client.ts'
import { signTicket } from '../../src/console/ticket.ts'
import { ConsolePasswords } from '../../src/console/passwords.ts'
import { SshConsoleServer } from '../../src/console/ssh.ts'
import { testHv } from '../console/helpers.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

export interface BenchRow {
  name: string
  samples: number
  p50Ms: number
  p95Ms: number
  overGuestP50Ms: number | null
}

const SAMPLES = 300
const WARMUP = 20

/** Time `samples` round trips: send one key, wait until its echo comes back. */
async function echoLatency(
  send: (s: string) => void,
  onData: (fn: (b: Buffer) => void) => void,
  samples = SAMPLES,
): Promise<number[]> {
  let waiting: { ch: string; resolve: () => void } | null = null
  onData((b) => {
    if (waiting && b.toString().includes(waiting.ch)) {
      const w = waiting
      waiting = null
      w.resolve()
    }
  })
  const times: number[] = []
  const keys = 'abcdefghijklmnopqrstuvwxyz'
  for (let i = 0; i < samples + WARMUP; i++) {
    const ch = keys[i % keys.length]
    const t0 = process.hrtime.bigint()
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no echo of ${ch} within 5 s`)), 5000)
      waiting = {
        ch,
        resolve: () => {
          clearTimeout(timer)
          resolve()
        },
      }
      send(ch)
    })
    if (i >= WARMUP) times.push(Number(process.hrtime.bigint() - t0) / 1e6)
    if (i % 60 === 59) send('\x03') // keep the fake shell's line short
    if (i % 60 === 59) await new Promise((r) => setTimeout(r, 20))
  }
  return times
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] * 1000) / 1000
}

export async function consoleBench(): Promise<BenchRow[]> {
  const env = await testHv(['bench'])
  const testnet = await createTestnet(3)
  await env.hv.start('bench')
  const screens = new ConsoleScreens(env.hv)
  const hub = DHT.keyPair()
  const provider = DHT.keyPair()
  const server = new ConsoleServer({ dht: testnet.createNode(), keyPair: provider, hubKey: hub.publicKey, screens })
  await server.start()
  const passwords = new ConsolePasswords(resolve(env.dir, 'pw'), { scryptN: TEST_SCRYPT_N })
  await passwords.set('bench', 'bench password')
  const ssh = new SshConsoleServer({ screens, passwords, dataDir: env.dir })
  await ssh.start()
  const rows: BenchRow[] = []
  const row = (name: string, t: number[], guest: number | null) =>
    rows.push({
      name,
      samples: t.length,
      p50Ms: pct(t, 50),
      p95Ms: pct(t, 95),
      overGuestP50Ms: guest === null ? null : Math.round((pct(t, 50) - guest) * 1000) / 1000,
    })
  try {
    // The guest's own echo, straight on the screen's serial stream (what every path adds to).
    const screen = await screens.get('bench')
    const direct = (screen as unknown as { stream: Duplex }).stream
    const guest = await echoLatency(
      (s) => direct.write(s),
      (fn) => direct.on('data', fn),
    )
    row('guest echo (serial stream)', guest, null)
    const guestP50 = pct(guest, 50)

    const viewerDht = testnet.createNode()
    const ticket = signTicket(hub.secretKey, {
      vmId: 'bench',
      nodeKey: provider.publicKey.toString('hex'),
      pmId: null,
      user: 'bench',
      clientKey: viewerDht.defaultKeyPair.publicKey.toString('hex'),
    }).ticket
    const session = await ConsoleSession.dial({ dht: viewerDht, nodeKey: provider.publicKey, ticket })
    await new Promise((r) => setTimeout(r, 100)) // let the repaint pass
    row(
      'console@1 (HyperDHT, loopback)',
      await echoLatency(
        (s) => session.write(s),
        (fn) => session.on('data', fn),
      ),
      guestP50,
    )
    await session.detach()
    await viewerDht.destroy()

    const client = new ssh2.Client()
    await new Promise<void>((res, rej) => {
      client
        .once('ready', () => res())
        .once('error', rej)
        .connect({
          host: '127.0.0.1',
          port: ssh.port,
          username: 'bench',
          password: 'bench password',
          readyTimeout: 10_000,
        })
    })
    const ch = await new Promise<ssh2.ClientChannel>((res, rej) =>
      client.shell({ term: 'xterm', cols: 80, rows: 24 }, (err, c) => (err ? rej(err) : res(c))),
    )
    await new Promise((r) => setTimeout(r, 100))
    row(
      'ssh console (ssh2 client, loopback)',
      await echoLatency(
        (s) => ch.write(s),
        (fn) => ch.on('data', fn),
      ),
      guestP50,
    )
    client.end()
  } finally {
    await ssh.close()
    await server.close()
    screens.close()
    await testnet.destroy()
    await env.cleanup()
  }
  return rows
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const rows = await consoleBench()
  for (const r of rows)
    console.log(
      `${r.name.padEnd(38)} n=${r.samples}  p50 ${r.p50Ms.toFixed(3)} ms  p95 ${r.p95Ms.toFixed(3)} ms${r.overGuestP50Ms === null ? '' : `  (+${r.overGuestP50Ms.toFixed(3)} ms over the guest)`}`,
    )
}
