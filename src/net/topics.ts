// Discovery topics: the 32-byte names peers announce on the DHT and look up. Each kind hashes its
// own domain tag, so a topic of one kind never equals a topic of another, nor any node's key.
import { createHash } from 'node:crypto'

function topic(kind: string, id: Buffer | string): Buffer {
  return createHash('sha256').update(`virtuoso/topic/${kind}@1\0`).update(id).digest()
}

/** The hubs of a market (today its one hub; later a standby) announce here. */
export const marketTopic = (marketKey: Buffer): Buffer => topic('market', marketKey)

/** Every node that can serve an image's blocks announces here (`digest` as the catalog writes it). */
export const imageTopic = (digest: string): Buffer => topic('image', digest)

/** The providers hosting machines of one buyer network announce here. */
export const networkTopic = (networkId: string): Buffer => topic('network', networkId)
