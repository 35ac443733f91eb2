// Finding peers by topic with HyperDHT's announce/lookup. A node announces a topic with the key
// pair its server already listens on, so a lookup yields keys that `dial` reaches directly.
// Hyperswarm does the same announcing, but only for its own server: every swarm listens on its
// key pair, and our hub and providers already serve theirs (hub, console server), which a second
// server on the same key pair would refuse (HyperDHT KEYPAIR_ALREADY_USED).
import type DHT from 'hyperdht'
import type { KeyPair } from 'hyperdht'

/** Records on the DHT expire (~20 min); announce again well before. */
export const REANNOUNCE_MS = 5 * 60_000

export interface Announcement {
  /** Resolves once the first announce reached the DHT (or failed: it is retried every REANNOUNCE_MS). */
  readonly ready: Promise<void>
  /** Stop announcing and remove the records. */
  stop(): Promise<void>
}

export function announce(
  dht: DHT,
  topic: Buffer,
  keyPair: KeyPair,
  opts: { reannounceMs?: number } = {},
): Announcement {
  let stopped = false
  const once = () => (dht as any).announce(topic, keyPair).finished() as Promise<void>
  const ready = once().catch(() => {})
  const timer = setInterval(() => void once().catch(() => {}), opts.reannounceMs ?? REANNOUNCE_MS)
  timer.unref()
  return {
    ready,
    async stop() {
      if (stopped) return
      stopped = true
      clearInterval(timer)
      await ready
      if (!dht.destroyed) await (dht as any).unannounce(topic, keyPair).catch(() => {})
    },
  }
}

/** Public keys announced on `topic`, each once, at most `limit`. */
export async function lookup(dht: DHT, topic: Buffer, opts: { limit?: number } = {}): Promise<Buffer[]> {
  const seen = new Map<string, Buffer>()
  for await (const reply of (dht as any).lookup(topic) as AsyncIterable<{ peers: Array<{ publicKey: Buffer }> }>) {
    for (const p of reply.peers) seen.set(p.publicKey.toString('hex'), p.publicKey)
    if (seen.size >= (opts.limit ?? 100)) break
  }
  return [...seen.values()]
}
