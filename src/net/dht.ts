// HyperDHT nodes. A private network (tests, the demo, a company's own market) runs `virtuoso dht`
// and names it with --bootstrap HOST:PORT; the public DHT is used only when asked for by name
// ("public"), so nothing ever dials the Internet by accident.
import DHT from 'hyperdht'
import { nodeError } from './errors.ts'

export type Bootstrap = Array<{ host: string; port: number }> | 'public'

/** How many DHT nodes `virtuoso dht` runs: one alone cannot route announces (measured: peers never
 *  meet with 1 node, they do with 2), so the bootstrap process keeps a few persistent peers. */
export const BOOTSTRAP_NODES = 3

export function parseBootstrap(text: string | undefined): Bootstrap {
  if (!text)
    throw nodeError.config(
      'no DHT bootstrap given: pass --bootstrap HOST:PORT (from `virtuoso dht`), set VIRTUOSO_BOOTSTRAP, or say "public"',
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

/** A client or server node. On a loopback-only network it binds 127.0.0.1 (a node bound to 0.0.0.0
 *  tries the machine's other address and its connections time out here). */
export function createDhtNode(bootstrap: Bootstrap): DHT {
  if (bootstrap === 'public') return new DHT()
  const host = bootstrap.every((b) => isLoopback(b.host)) ? '127.0.0.1' : '0.0.0.0'
  return new DHT({ bootstrap, host })
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
