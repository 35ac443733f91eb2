// The raw-transport peer for `npm run bench -- migration-flow`: a HyperDHT server in its own process
// that writes `bytes` of data on each connection and ends it, so the parent measures what one
// UDX + secret-stream connection between two processes carries per second, in the same run.
import DHT from 'hyperdht'

const [bootstrap, bytesArg] = process.argv.slice(2)
const bytes = Number(bytesArg)
// Not firewalled, as a provider's serving node on loopback is (src/net/dht.ts): a firewalled server left
// some dials half-open here, and the bench failed with 'connection timed out'.
const dht = new DHT({ bootstrap: [bootstrap], host: '127.0.0.1', firewalled: false })
const keyPair = DHT.keyPair()
const chunk = Buffer.alloc(1024 * 1024, 0x5a)
const server = dht.createServer((socket) => {
  socket.on('error', () => {})
  let left = bytes
  const pump = () => {
    while (left > 0) {
      left -= chunk.length
      if (!socket.write(chunk)) return void socket.once('drain', pump)
    }
    socket.end()
  }
  pump()
})
await server.listen(keyPair)
process.stdout.write(`key ${keyPair.publicKey.toString('hex')}\n`)
process.on('disconnect', () => process.exit(0))
process.stdin.on('end', () => process.exit(0))
process.stdin.resume()
