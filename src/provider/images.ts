// A provider node's images: the hub's 'image.*' commands (fetch a catalog image into the node's
// cache from the hub and from peers at once; import a file a provider publishes), the buyer's disk
// made from a cached image at 'vm.create', and blocks@1 service of cached images to other nodes.
import type DHT from 'hyperdht'
import type { KeyPair, NoiseSocket } from 'hyperdht'
import type Protomux from 'protomux'
import { isAbsolute } from 'node:path'
import type { Hypervisor } from '../hv/hypervisor.ts'
import { copyImageToDisk } from '../hv/image-disk.ts'
import { StagedDisk } from './staged-disk.ts'
import { ImageCache } from './image-cache.ts'
import { providerError } from './errors.ts'
import { fetchImage, type FetchImageResult, type ImageSource } from '../vmmp/image-fetch.ts'
import { checkDigest, type ImageStore } from '../vmmp/image-store.ts'
import { blockHash, isZeroHash } from '../vmmp/manifest.ts'
import { dialPeer } from '../vmmp/peer-dial.ts'
import { errorInfo } from '../errors.ts'
import { nodeError } from '../net/errors.ts'
import { dial } from '../net/dial.ts'
import { PROTOCOLS } from '../net/protocols.ts'

/** A second connection to the hub for image blocks; it is up once market@1 (every hub opens it) opens. */
async function dialHub(dht: DHT, key: Buffer, keyPair: KeyPair): Promise<{ socket: NoiseSocket; mux: Protomux }> {
  const { socket, value } = await dial(dht, key, { keyPair, deadlineMs: 10_000, what: 'the hub' }, (mux) => {
    let opened!: () => void
    const p = new Promise<void>((resolve) => (opened = resolve))
    mux.createChannel({ protocol: PROTOCOLS.market, onopen: () => opened() })?.open()
    return { opened: p, value: mux }
  })
  return { socket, mux: value }
}

/** Progress reports to the hub at most this often (each is one patched row in the market). */
export const PROGRESS_INTERVAL_MS = 200
export const HUB_SOURCE = 'hub'

export interface ImageServiceOptions {
  dht: DHT
  keyPair: KeyPair
  store: ImageStore
  hv: Hypervisor
  /** The hub's key: it serves the catalog's own images, over a connection of their own (below). */
  marketKey: Buffer
  /** Send node.progress for a machine whose image is arriving. */
  report: (vmId: string, done: number, total: number) => void
  /** For the event log: an image delivered for a machine, or its delivery failed. */
  event?: (e: { type: string; message: string; vmId?: string }) => void
  stallMs?: number
  log?: (line: string) => void
  /** Most bytes of cached images kept after a fetch (`node --image-cache MB`); default: no cap. */
  cacheBytes?: number
  /** Tell the hub which images this node no longer holds (node.images.dropped). */
  evicted?: (digests: string[]) => void
}

export class ImageService {
  private fetching = new Map<string, Promise<FetchImageResult>>()
  readonly cache: ImageCache

  constructor(private opts: ImageServiceOptions) {
    this.cache = new ImageCache(opts.store, { maxBytes: opts.cacheBytes, log: opts.log })
  }

  /** The hub stops naming this node as a source of what it evicted. */
  private dropped(digests: string[]): void {
    if (digests.length) this.opts.evicted?.(digests)
  }

  async command(method: string, params: unknown): Promise<unknown> {
    const p = (params ?? {}) as Record<string, any>
    switch (method) {
      case 'image.fetch':
        return this.fetch(p)
      case 'image.import': {
        if (typeof p.file !== 'string' || !isAbsolute(p.file))
          throw nodeError.badFrame('image.import needs an absolute file path')
        const res = await this.opts.store.import(p.file)
        await this.cache.markPublished(res.digest) // its catalog source: never evicted here
        return res
      }
      default:
        throw nodeError.unknownMethod(method)
    }
  }

  private async fetch(p: Record<string, any>): Promise<unknown> {
    const digest = checkDigest(p.digest)
    if (!Number.isSafeInteger(p.size) || p.size <= 0) throw nodeError.badFrame('image.fetch needs a size')
    const vmId = typeof p.vmId === 'string' ? p.vmId : ''
    if (vmId) this.cache.pin(digest, vmId) // until its disk is made from it (makeDisk)
    const sources: string[] = Array.isArray(p.sources) ? p.sources.filter((s: unknown) => typeof s === 'string') : []
    let last = 0
    const progress = (done: number, total: number, force = false) => {
      const now = Date.now()
      if (!force && now - last < PROGRESS_INTERVAL_MS) return
      last = now
      if (vmId) this.opts.report(vmId, done, total)
    }
    // Two stores of one image at once share one fetch; the first one's disk is written as it arrives.
    let run = this.fetching.get(digest)
    if (!run) {
      const disk = vmId && Number.isSafeInteger(p.hd) && !(await this.opts.store.has(digest)) ? p.hd : null
      run = this.pull(digest, p.size, sources, progress, disk === null ? null : { vmId, hdMb: disk }).finally(() =>
        this.fetching.delete(digest),
      )
      this.fetching.set(digest, run)
    }
    const short = digest.slice(0, 12)
    const res = await run.catch((err) => {
      this.opts.event?.({
        type: 'image.failed',
        vmId,
        message: `image ${short} not delivered: ${errorInfo(err).message}`,
      })
      throw err
    })
    progress(p.size, p.size, true)
    if (res.bytes > 0)
      this.opts.event?.({ type: 'image.delivered', vmId, message: `image ${short} delivered (${res.bytes} bytes)` })
    return res
  }

  private async pull(
    digest: string,
    size: number,
    keys: string[],
    progress: (done: number, total: number) => void,
    staged: { vmId: string; hdMb: number } | null,
  ): Promise<FetchImageResult> {
    if (await this.opts.store.has(digest)) return { bytes: 0, bytesOnWire: 0, bySource: {} }
    // Room for the image (and the disk staged beside it): least recently used images go first.
    this.dropped(await this.cache.makeRoom(Math.ceil(size * 1.01) + (staged ? size : 0), digest))
    // The machine's disk is written from the same verified buffers as the cache (no second pass).
    const stage = staged ? new StagedDisk(this.opts.store.dir, staged.vmId, staged.hdMb) : null
    const sockets: NoiseSocket[] = []
    const sources: ImageSource[] = []
    const d0 = Date.now()
    try {
      await Promise.all(
        keys.map(async (k) => {
          if (k === HUB_SOURCE) {
            // Not over the control connection: a queue of image blocks there would delay the hub's
            // pings past their timeout under load, and the agent would drop the hub.
            try {
              const { socket, mux } = await dialHub(this.opts.dht, this.opts.marketKey, this.opts.keyPair)
              sockets.push(socket)
              sources.push({ name: HUB_SOURCE, mux })
            } catch (err) {
              this.opts.log?.(`images: the hub is unreachable for blocks: ${errorInfo(err).message}`)
            }
            return
          }
          if (!/^[0-9a-f]{64}$/.test(k)) return
          try {
            const { socket, mux } = await dialPeer(this.opts.dht, Buffer.from(k, 'hex'), {
              keyPair: this.opts.keyPair,
              deadlineMs: 10_000,
            })
            sockets.push(socket)
            sources.push({ name: k.slice(0, 8), mux })
          } catch (err) {
            this.opts.log?.(`images: peer ${k.slice(0, 8)} unreachable: ${errorInfo(err).message}`)
          }
        }),
      )
      const t0 = Date.now()
      const res = await fetchImage({
        store: this.opts.store,
        digest,
        size,
        sources,
        stallMs: this.opts.stallMs,
        onProgress: progress,
        ...(stage ? { onData: (data: Buffer, pos: number) => stage.write(data, pos) } : {}),
      })
      await stage?.done(digest)
      await this.cache.touch(digest)
      this.dropped(await this.cache.trim(digest))
      const from = Object.entries(res.bySource)
        .map(([n, b]) => `${n}: ${b}`)
        .join(', ')
      const ms = `${Date.now() - t0} ms after ${t0 - d0} ms dialing`
      this.opts.log?.(`images: fetched ${digest.slice(0, 12)} in ${ms} (${res.bytes} bytes from ${from})`)
      return res
    } catch (err) {
      await stage?.discard()
      throw err
    } finally {
      for (const s of sockets) s.destroy()
    }
  }

  /** Write a cached image onto a freshly created machine's disk. */
  async makeDisk(vmId: string, hdMb: number, digest: string): Promise<number> {
    try {
      return await this.diskFrom(vmId, hdMb, checkDigest(digest))
    } finally {
      this.cache.unpin(digest, vmId)
      await this.cache.touch(digest)
    }
  }

  private async diskFrom(vmId: string, hdMb: number, digest: string): Promise<number> {
    const m = await this.opts.store.manifest(digest)
    if (!m) throw providerError.imageMissing(digest)
    const t0 = Date.now()
    if (await StagedDisk.adopt(this.opts.store.dir, vmId, hdMb, digest, this.opts.hv.dirOf(vmId))) {
      this.opts.log?.(`images: disk of ${vmId} written during the delivery of ${digest.slice(0, 12)}`)
      return m.size
    }
    const n = await copyImageToDisk({
      image: this.opts.store.pathOf(digest),
      size: m.size,
      dir: this.opts.hv.dirOf(vmId),
      hdMb,
      isZeroBlock: (i) => isZeroHash(blockHash(m, i)),
    })
    this.opts.log?.(`images: disk of ${vmId} made from ${digest.slice(0, 12)} in ${Date.now() - t0} ms`)
    return n
  }
}
