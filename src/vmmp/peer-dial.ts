// Dialing another node for blocks@1: a migration's RSYNC pull from its origin, image and ISO fetches.
// The peer's key also serves console@1 and opens it on every connection, and hangs up a connection on
// which no protocol of its own opens; so the dialer opens vmmp@1 (the peer's "busy" mark, which keeps
// the connection up while blocks move) and accepts console@1 silently.
import type DHT from 'hyperdht'
import type { KeyPair, NoiseSocket } from 'hyperdht'
import type Protomux from 'protomux'
import { PROTOCOLS } from '../net/protocols.ts'
import { dial } from '../net/dial.ts'
import { PEER_CHANNEL_ID } from './params.ts'

export async function dialPeer(
  dht: DHT,
  key: Buffer,
  opts: { keyPair: KeyPair; deadlineMs?: number; what?: string },
): Promise<{ socket: NoiseSocket; mux: Protomux }> {
  const { socket, value } = await dial(
    dht,
    key,
    {
      keyPair: opts.keyPair,
      deadlineMs: opts.deadlineMs ?? 15_000,
      what: opts.what ?? `provider node ${key.toString('hex').slice(0, 8)}`,
    },
    (mux) => {
      let opened!: () => void
      const p = new Promise<void>((resolve) => {
        opened = resolve
      })
      mux.createChannel({ protocol: PROTOCOLS.vmmp, id: PEER_CHANNEL_ID, onopen: () => opened() })?.open()
      mux.pair({ protocol: PROTOCOLS.console }, () => {
        mux.createChannel({ protocol: PROTOCOLS.console })?.open()
      })
      return { opened: p, value: mux }
    },
  )
  return { socket, mux: value }
}
