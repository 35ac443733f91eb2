// HyperDHT nodes. A private network (tests, the demo, a company's own market) runs `virtuoso dht`
// and names it with --bootstrap HOST:PORT; the public DHT is used only when asked for by name
// ("public"), so nothing ever dials the Internet by accident.
import DHT, { type DHTOptions } from 'hyperdht'
import { networkInterfaces } from 'node:os'
import { nodeError } from './errors.ts'

export type Bootstrap = Array<{ host: string; port: number }> | 'public'

/** How many DHT nodes `virtuoso dht` runs: one alone cannot route announces (measured: peers never
 *  meet with 1 node, they do with 2), so the bootstrap process keeps a few persistent peers. */
export const BOOTSTRAP_NODES = 3

export function parseBootstrap(text: string | undefined): Bootstrap {
  if (!text)
    throw nodeError.config(
      'no DHT bootstrap given: pass --bootstrap HOST:PORT (from `virtuoso dht`), set VIRTUOSO_BOOTSTRAP, or say ' +
        '"public"',
    )
  if (text.trim() === 'public') return 'public'
  return text.split(',').map((part) => {
    const m = /^\s*([^:\s]+):(\d{1,5})\s*$/.exec(part)
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
      throw nodeError.config(`bad bootstrap address "${part}": expected HOST:PORT`)
    return { host: m[1] === 'localhost' ? '127.0.0.1' : m[1], port: Number(m[2]) }
  })
}

export function formatBootstrap(b: Bootstrap): string {
  return b === 'public' ? 'public' : b.map((a) => `${a.host}:${a.port}`).join(',')
}

const isLoopback = (host: string) => host.startsWith('127.') || host === '::1'

/** Where a serving node (hub, provider) can be reached; see `serverReach`. */
export interface Reach {
  /** HOST:PORT peers reach this node at (UDP): it binds PORT, is not firewalled and is persistent. */
  publicAddress?: { host: string; port: number }
  /** Force the NAT setting: true = peers must holepunch to this node, false = they dial it directly. */
  firewalled?: boolean
}

export interface DhtNodeOptions extends Reach {
  /** The node serves (createServer): it needs the NAT setting of where it runs, see below. */
  serve?: boolean
}

/**
 * A client or server node. On a loopback-only network it binds 127.0.0.1 (a node bound to 0.0.0.0
 * tries the machine's other address and its connections time out here).
 *
 * A serving node on loopback or at a public address is *not firewalled*. HyperDHT's default
 * (firewalled until its NAT analysis says otherwise) made 6 of 10 dials from fresh processes
 * half-open here: the dialing side races a LAN shortcut (ping the server's local address, then
 * send) against the holepunch; the firewalled server, whose NAT analysis is not yet stable,
 * aborts the holepunch and destroys its end of the stream ~10-50 ms later, while the client,
 * whose `open` needs no answer from the server, already counts the connection as open and never
 * hears back. A server that says it is reachable (firewall OPEN) is dialed directly, and accepts
 * the first packet on its stream: 10 of 10 (test/net/dial-processes.test.ts).
 */
export function createDhtNode(bootstrap: Bootstrap, opts: DhtNodeOptions = {}): DHT {
  const loopback = bootstrap !== 'public' && bootstrap.every((b) => isLoopback(b.host))
  const node: DHTOptions = bootstrap === 'public' ? {} : { bootstrap, host: loopback ? '127.0.0.1' : '0.0.0.0' }
  if (opts.publicAddress) {
    node.port = opts.publicAddress.port
    node.host = localAddresses().has(opts.publicAddress.host) ? opts.publicAddress.host : '0.0.0.0'
    node.ephemeral = false // reachable at a stable address: it may as well route for the DHT
  }
  // Elsewhere HyperDHT's own NAT analysis decides (it starts firewalled and may open up).
  const known = opts.serve && (loopback || opts.publicAddress) ? false : undefined
  const firewalled = opts.firewalled ?? known
  if (firewalled !== undefined) node.firewalled = firewalled
  return new DHT(node)
}

function localAddresses(): Set<string> {
  const out = new Set<string>()
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address)
  return out
}

/** `--public-address HOST:PORT` */
export function parsePublicAddress(text: string | undefined): Reach['publicAddress'] {
  if (text === undefined || text === '') return undefined
  const m = /^\s*([^:\s]+):(\d{1,5})\s*$/.exec(text)
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
    throw nodeError.config(`bad --public-address "${text}": expected HOST:PORT (the UDP port peers reach)`)
  return { host: m[1], port: Number(m[2]) }
}

export interface BootstrapNetwork {
  address: { host: string; port: number }
  destroy(): Promise<void>
}

/** `virtuoso dht`: the first node answers on host:port, the others keep the routing table alive. */
export async function runBootstrap(opts: { host?: string; port?: number } = {}): Promise<BootstrapNetwork> {
  const host = opts.host ?? '127.0.0.1'
  const first = new DHT({ ephemeral: false, firewalled: false, bootstrap: [], port: opts.port ?? 0, host })
  await first.fullyBootstrapped()
  const address = { host, port: first.address().port }
  const nodes = [first]
  for (let i = 1; i < BOOTSTRAP_NODES; i++) {
    const node = new DHT({ ephemeral: false, firewalled: false, bootstrap: [address], host })
    await node.fullyBootstrapped()
    nodes.push(node)
  }
  return {
    address,
    async destroy() {
      for (const n of nodes.reverse()) await n.destroy()
    },
  }
}

/**
 * Forget the relay addresses this node remembers for `key` from its last connection to it. A
 * peer restarted under the same key (a hub restart) is announced through other DHT nodes; dialing
 * the remembered ones first made every redial after a hub restart take ~4 s (p50 4117 ms, 5 of 5
 * runs in `npm run bench -- transport`); forgotten, 183-376 ms. HyperDHT has no public call for this.
 */
export function forgetRelays(dht: DHT, key: Buffer): void {
  ;(dht as any)._relayAddressesCache?.delete?.(key.toString('hex'))
}
