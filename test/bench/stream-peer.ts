// The receiving process of the stream throughput benchmark (transport-stream.ts): counts every byte
// of one encrypted stream, then answers with the count. `dht BOOTSTRAP` serves a
// HyperDHT key (our transport); `tcp` serves TCP wrapped in @hyperswarm/secret-stream (the same
// Noise stream HyperDHT uses, over the kernel's TCP instead of UDX). Prints one JSON line.
import { createServer } from 'node:net'
import SecretStream from '@hyperswarm/secret-stream'
import DHT from 'hyperdht'
import type { Duplex } from 'node:stream'
import { createDhtNode, parseBootstrap } from '../../src/net/dht.ts'

/** The first 8 bytes say how many follow; the answer is sent once they all arrived. */
function receive(stream: Duplex): void {
  let want = -1
  let bytes = 0
  let head = Buffer.alloc(0)
  stream.on('error', () => {})
  stream.on('data', (b: Buffer) => {
    if (want < 0) {
      head = Buffer.concat([head, b])
      if (head.length < 8) return
      want = Number(head.readBigUInt64BE(0))
      b = head.subarray(8)
    }
    bytes += b.length
    if (bytes === want) stream.write(String(bytes))
  })
}

const [mode, bootstrap] = process.argv.slice(2)
if (mode === 'dht') {
  const dht = createDhtNode(parseBootstrap(bootstrap), { serve: true })
  const keyPair = DHT.keyPair()
  const server = dht.createServer(receive)
  await server.listen(keyPair)
  process.stdout.write(JSON.stringify({ key: keyPair.publicKey.toString('hex') }) + '\n')
} else {
  const server = createServer((socket) => receive(new SecretStream(false, socket)))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  process.stdout.write(JSON.stringify({ port: (server.address() as { port: number }).port }) + '\n')
}
process.on('disconnect', () => process.exit(0))
