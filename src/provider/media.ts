// Install media on a provider node (the report's "remote device support"): the hub's 'media.*'
// commands. An ISO arrives content-addressed over blocks@1 from the buyer's own client (which serves
// exactly that digest to exactly this node), every block verified, into `<data>/media`, and is
// attached to the machine as a CD-ROM from its next boot. The node keeps an ISO only while some
// machine has it attached: detach and delete drop it.
import type DHT from 'hyperdht'
import type { KeyPair } from 'hyperdht'
import type { Hypervisor } from '../hv/hypervisor.ts'
import { fetchImage } from '../vmmp/image-fetch.ts'
import { checkDigest, type ImageStore } from '../vmmp/image-store.ts'
import { dialPeer } from '../vmmp/peer-dial.ts'
import { providerError } from './errors.ts'
import { nodeError } from '../net/errors.ts'

export interface MediaServiceOptions {
  dht: DHT
  keyPair: KeyPair
  /** `<data>/media`: a store of its own, so catalog images and buyers' ISOs never mix. */
  store: ImageStore
  hv: Hypervisor
  stallMs?: number
  log?: (line: string) => void
}

export class MediaService {
  constructor(private opts: MediaServiceOptions) {}

  async command(method: string, params: unknown): Promise<unknown> {
    const p = (params ?? {}) as Record<string, any>
    if (typeof p.vmId !== 'string') throw nodeError.badFrame(`${method} needs a vmId`)
    if (method === 'media.attach') return this.attach(p.vmId, p)
    if (method === 'media.detach') return this.detach(p.vmId)
    throw nodeError.unknownMethod(method)
  }

  private async attach(vmId: string, p: Record<string, any>): Promise<unknown> {
    const digest = checkDigest(p.digest)
    if (!Number.isSafeInteger(p.size) || p.size <= 0) throw nodeError.badFrame('media.attach needs a size')
    if (typeof p.source !== 'string' || !/^[0-9a-f]{64}$/.test(p.source))
      throw nodeError.badFrame('media.attach needs the key of the client serving the ISO')
    const before = (await this.opts.hv.get(vmId)).config.media ?? null
    if (!(await this.opts.store.has(digest))) {
      // Refused before a byte moves: an ISO larger than what this node has free.
      if (p.size > (await this.opts.store.free())) throw providerError.noSpace(this.opts.store.dir)
      const { socket, mux } = await dialPeer(this.opts.dht, Buffer.from(p.source, 'hex'), {
        keyPair: this.opts.keyPair,
        deadlineMs: 30_000,
      })
      try {
        await fetchImage({
          store: this.opts.store,
          digest,
          size: p.size,
          sources: [{ name: 'buyer', mux }],
          stallMs: this.opts.stallMs,
        })
      } finally {
        socket.destroy()
      }
    }
    const path = this.opts.store.pathOf(digest)
    await this.opts.hv.setMedia(vmId, path)
    if (before && before !== path) await this.release(before)
    this.opts.log?.(`media: ${digest.slice(0, 12)} attached to ${vmId}`)
    return { attached: true }
  }

  private async detach(vmId: string): Promise<unknown> {
    const before = (await this.opts.hv.get(vmId)).config.media ?? null
    await this.opts.hv.setMedia(vmId, null)
    if (before) await this.release(before)
    return { detached: before !== null }
  }

  /** After a machine is deleted: its ISO goes unless another machine here has it attached. */
  async forget(path: string | null | undefined): Promise<void> {
    if (path) await this.release(path)
  }

  private async release(path: string): Promise<void> {
    for (const vm of await this.opts.hv.list()) if (vm.config.media === path) return
    for (const d of await this.opts.store.list())
      if (this.opts.store.pathOf(d) === path) await this.opts.store.remove(d)
  }
}
