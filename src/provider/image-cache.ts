// Eviction of a provider's cached catalog images (issue 12): least recently used first, never an
// image a machine still needs, never one this node published. Runs before a fetch when the store
// lacks the room for the image, and after one when the cache is over its cap (`node --image-cache`).
// "Needs": a store in progress pins its image from the fetch until the machine's disk is made from
// it (or PIN_MS passes: a store that failed after its fetch never makes the disk). A machine's disk
// is a whole copy, so a made machine needs its image no more; a later store fetches it again.
// Use is kept as the mtime of `<digest>/.used` (fetched, a machine's disk made from it).
import { readdir, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ImageStore } from '../vmmp/image-store.ts'

export const USED_FILE = '.used'
export const PUBLISHED_FILE = '.published'
/** A pin outlives a store that never came back for its disk by at most this long. */
export const PIN_MS = 30 * 60_000

export interface ImageCacheOptions {
  /** Most bytes the cache may hold after a fetch (default: no cap, evict only for room). */
  maxBytes?: number
  log?: (line: string) => void
}

export class ImageCache {
  private pins = new Map<string, Map<string, number>>() // digest -> holder -> until

  constructor(
    private store: ImageStore,
    private opts: ImageCacheOptions = {},
  ) {}

  async touch(digest: string): Promise<void> {
    const f = join(this.store.dirOf(digest), USED_FILE)
    const now = new Date()
    await utimes(f, now, now).catch(() => writeFile(f, '').catch(() => {}))
  }

  /** An image this node published: its catalog source, never evicted. */
  async markPublished(digest: string): Promise<void> {
    await writeFile(join(this.store.dirOf(digest), PUBLISHED_FILE), '')
  }

  pin(digest: string, holder: string): void {
    const m = this.pins.get(digest) ?? new Map<string, number>()
    m.set(holder, Date.now() + PIN_MS)
    this.pins.set(digest, m)
  }

  unpin(digest: string, holder: string): void {
    this.pins.get(digest)?.delete(holder)
  }

  private pinned(digest: string): boolean {
    const now = Date.now()
    const m = this.pins.get(digest)
    for (const [h, until] of m ?? []) if (until < now) m!.delete(h)
    return (m?.size ?? 0) > 0
  }

  /** Evict until `need` bytes are free (before a fetch). Returns the digests evicted. */
  async makeRoom(need: number, keep: string): Promise<string[]> {
    if ((await this.store.free()) >= need) return []
    return this.evict(keep, async () => (await this.store.free()) >= need)
  }

  /** Evict until the cache is within its cap (after a fetch). */
  async trim(keep: string): Promise<string[]> {
    const max = this.opts.maxBytes
    if (max === undefined) return []
    return this.evict(keep, async () => (await this.usage()).total <= max)
  }

  async usage(): Promise<{ total: number; images: Array<{ digest: string; bytes: number; used: number }> }> {
    const images: Array<{ digest: string; bytes: number; used: number }> = []
    for (const digest of await this.store.list()) {
      const dir = this.store.dirOf(digest)
      let bytes = 0
      for (const n of await readdir(dir).catch(() => [] as string[])) {
        const st = await stat(join(dir, n)).catch(() => null)
        if (st?.isFile()) bytes += st.blocks * 512 // what it takes on disk (images are sparse)
      }
      const used = (await stat(join(dir, USED_FILE)).catch(() => null))?.mtimeMs ?? 0
      images.push({ digest, bytes, used })
    }
    return { total: images.reduce((s, i) => s + i.bytes, 0), images }
  }

  private async evict(keep: string, enough: () => Promise<boolean>): Promise<string[]> {
    const gone: string[] = []
    const { images } = await this.usage()
    for (const img of images.sort((a, b) => a.used - b.used)) {
      if (await enough()) break
      if (img.digest === keep || this.pinned(img.digest)) continue
      if (await stat(join(this.store.dirOf(img.digest), PUBLISHED_FILE)).catch(() => null)) continue
      await this.store.remove(img.digest)
      gone.push(img.digest)
      this.opts.log?.(`images: evicted ${img.digest.slice(0, 12)} (${img.bytes} bytes, least recently used)`)
    }
    return gone
  }
}
