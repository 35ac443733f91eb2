// Throughput of one encrypted stream between two processes on loopback: ours (HyperDHT: Noise over
// UDX) beside TCP wrapped in @hyperswarm/secret-stream (the same Noise stream over the kernel's
// TCP), both measured in this run. The receiver (stream-peer.ts) answers with its byte count once
// all have arrived, so the time is until every byte is there, not until it was queued.
import { spawn, type ChildProcess } from 'node:child_process'
import { connect } from 'node:net'
import { once } from 'node:events'
import type { Duplex } from 'node:stream'
import SecretStream from '@hyperswarm/secret-stream'
import { createDhtNode, type Bootstrap } from '../../src/net/dht.ts'

const MiB = 1024 * 1024

function peer(args: string[]): { proc: ChildProcess; ready: Promise<any> } {
  const proc = spawn(process.execPath, ['bin/run-ts.js', 'test/bench/stream-peer.ts', ...args], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  })
  const ready = new Promise<any>((resolve, reject) => {
    let buf = ''
    proc.stdout!.on('data', (b) => {
      buf += b
      const nl = buf.indexOf('\n')
      if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)))
    })
    proc.once('exit', () => reject(new Error('stream-peer exited')))
  })
  return { proc, ready }
}

/** Writes `total` bytes in 64 KiB chunks, honouring backpressure; resolves MiB/s when all arrived. */
async function send(stream: Duplex, total: number): Promise<number> {
  stream.on('error', () => {})
  const chunk = Buffer.alloc(64 * 1024, 7)
  const answer = new Promise<number>((resolve, reject) => {
    stream.once('data', (b) => resolve(Number(String(b))))
    stream.once('close', () => reject(new Error('the stream closed before the receiver answered')))
    stream.once('error', reject)
  })
  const t0 = performance.now()
  const head = Buffer.alloc(8)
  head.writeBigUInt64BE(BigInt(total))
  stream.write(head)
  for (let sent = 0; sent < total; sent += chunk.length) if (!stream.write(chunk)) await once(stream, 'drain')
  const got = await answer
  const secs = (performance.now() - t0) / 1000
  if (got !== total) throw new Error(`the receiver counted ${got} of ${total} bytes`)
  stream.destroy()
  return Math.round(total / MiB / secs)
}

export async function streamThroughput(bootstrap: Bootstrap, totalMiB = 256): Promise<{ ours: number; tcp: number }> {
  const total = totalMiB * MiB
  const dhtPeer = peer(['dht', bootstrap === 'public' ? 'public' : bootstrap.map((b) => `${b.host}:${b.port}`).join()])
  const tcpPeer = peer(['tcp'])
  const dht = createDhtNode(bootstrap)
  try {
    const { key } = await dhtPeer.ready
    const { port } = await tcpPeer.ready
    const ours = await send(dht.connect(Buffer.from(key, 'hex')), total)
    const socket = connect(port, '127.0.0.1')
    await once(socket, 'connect')
    const tcp = await send(new SecretStream(true, socket), total)
    return { ours, tcp }
  } finally {
    dhtPeer.proc.kill()
    tcpPeer.proc.kill()
    await dht.destroy()
  }
}
