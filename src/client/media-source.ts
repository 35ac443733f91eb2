// The buyer's side of `media attach`: the client serves one ISO over blocks@1 on a HyperDHT server of
// its own (a fresh key for this transfer) to exactly one provider node, and only that file's digest.
// The provider dials it, opens vmmp@1 (its "connection is up" signal; see vmmp/peer-dial.ts), then
// fetches and verifies every block. The server closes when the attach call returns.
import DHT from 'hyperdht'
import type { Server } from 'hyperdht'
import Protomux from 'protomux'
import { basename, dirname, resolve } from 'node:path'
import { serveBlocks } from '../vmmp/blocks.ts'
import { IMAGE_CHANNEL_PREFIX } from '../vmmp/image-store.ts'
import { hashFile } from '../vmmp/manifest.ts'
import { PEER_CHANNEL_ID } from '../vmmp/params.ts'
import { PROTOCOLS } from '../net/protocols.ts'

export interface MediaSource {
  /** Hex key the provider dials. */
  key: string
  digest: string
  size: number
  close(): Promise<void>
}

export async function serveMedia(dht: DHT, file: string, providerKey: string): Promise<MediaSource> {
  const path = resolve(file)
  const m = await hashFile(path, basename(path))
  const keyPair = DHT.keyPair()
  const server: Server = dht.createServer((socket) => {
    socket.on('error', () => {})
    if (socket.remotePublicKey.toString('hex') !== providerKey) return socket.destroy()
    const mux = Protomux.from(socket)
    mux.pair({ protocol: PROTOCOLS.vmmp, id: PEER_CHANNEL_ID }, () => {
      mux.createChannel({ protocol: PROTOCOLS.vmmp, id: PEER_CHANNEL_ID })?.open()
    })
    serveBlocks(mux, {
      authorize: (id) =>
        id === IMAGE_CHANNEL_PREFIX + m.root
          ? { vmId: id, dir: dirname(path), files: [basename(path)], version: null }
          : null,
    })
  })
  await server.listen(keyPair)
  return {
    key: keyPair.publicKey.toString('hex'),
    digest: m.root,
    size: m.size,
    close: () => server.close(),
  }
}
