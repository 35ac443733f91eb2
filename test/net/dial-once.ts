// A one-shot dialer for test/net/dial-processes.test.ts, run as its own process (a fresh DHT node,
// as a CLI call has): one connect to KEY, no redial, then market@1 `hello`. Prints one JSON line.
import Protomux from 'protomux'
import { createDhtNode, parseBootstrap } from '../../src/net/dht.ts'
import { RpcChannel } from '../../src/net/rpc.ts'
import { PROTOCOLS } from '../../src/net/protocols.ts'

const [bootstrap, key, waitMs = '5000'] = process.argv.slice(2)
const dht = createDhtNode(parseBootstrap(bootstrap))
const t0 = performance.now()
const socket = dht.connect(Buffer.from(key, 'hex'))
socket.on('error', () => {})
const market = new RpcChannel(Protomux.from(socket), { protocol: PROTOCOLS.market, timeoutMs: Number(waitMs) })
// A half-open connection never opens its channel: the request waits in protomux until the timeout.
const result = await market.request('hello').then(
  (r) => ({ ok: true, market: r.market, ms: Math.round(performance.now() - t0) }),
  (err) => ({ ok: false, code: err.code }),
)
process.stdout.write(JSON.stringify(result) + '\n')
socket.destroy()
await dht.destroy()
