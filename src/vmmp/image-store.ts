// A node's content-addressed store of disk images (the hub's catalog files, a provider's cache, and
// install media): `<dir>/<digest>/image.raw` with its block manifest cached beside it as
// `.manifest-0.bin` (manifest.ts), so serving it over blocks@1 never re-hashes it, and its groups
// deflated as `image.raw.z` + `.zi` (zgroups.ts), so serving it never deflates. The digest is the
// file's hash-list root (manifest.ts rootOf): the digest of its manifest. A directory appears only
// by rename once its file is complete and verified; a half-fetched image lives under `.partial-*`.
import { copyFile, mkdir, readdir, rename, rm, stat, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { Authorization } from './blocks.ts'
import { fsError, vmmpError } from './errors.ts'
import { buildZ } from './zgroups.ts'
import { hashFile, loadCachedEntries, saveManifest, type FileManifest } from './manifest.ts'

export const IMAGE_FILE = 'image.raw'
/** blocks@1 channel ids for images: `image:<digest>` (migrations use their migration id). */
export const IMAGE_CHANNEL_PREFIX = 'image:'
export const PARTIAL_PREFIX = '.partial-'
const DIGEST = /^[0-9a-f]{64}$/

export interface ImageStoreOptions {
  /** Free bytes to assume instead of statfs (tests fill the disk this way). */
  freeBytes?: () => number | Promise<number>
}

export function checkDigest(digest: unknown): string {
  if (typeof digest !== 'string' || !DIGEST.test(digest)) throw vmmpError.protocol('an image digest is 64 hex digits')
  return digest
}

export class ImageStore {
  constructor(
    readonly dir: string,
    private opts: ImageStoreOptions = {},
  ) {}

  dirOf(digest: string): string {
    return join(this.dir, checkDigest(digest))
  }

  pathOf(digest: string): string {
    return join(this.dirOf(digest), IMAGE_FILE)
  }

  /** The image's manifest if this store holds it intact (its stat stamp unchanged since hashing). */
  async manifest(digest: string): Promise<FileManifest | null> {
    const m = (await loadCachedEntries(this.dirOf(digest))).get(IMAGE_FILE)
    return m && m.root === digest ? m : null
  }

  async has(digest: string): Promise<boolean> {
    return (await this.manifest(digest)) !== null
  }

  /** Bytes a new image may take here. */
  async free(): Promise<number> {
    if (this.opts.freeBytes) return this.opts.freeBytes()
    await mkdir(this.dir, { recursive: true })
    const s = await statfs(this.dir)
    return Number(s.bavail) * Number(s.bsize)
  }

  /** A fresh directory for an image being written; `commit` moves it into place. */
  async partial(digest: string): Promise<string> {
    const dir = join(
      this.dir,
      `${PARTIAL_PREFIX}${checkDigest(digest)}-${process.pid}-${randomBytes(4).toString('hex')}`,
    )
    await mkdir(dir, { recursive: true }).catch((err) => {
      throw fsError('creating', dir, err)
    })
    return dir
  }

  /** Cache the manifest of a complete partial directory and move it into place (atomic rename). */
  async commit(partialDir: string, m: Omit<FileManifest, 'mtimeMs' | 'ino' | 'name'>): Promise<void> {
    const path = join(partialDir, IMAGE_FILE)
    const st = await stat(path)
    if (st.size !== m.size) throw vmmpError.corrupt(`${path} is ${st.size} bytes, the image has ${m.size}`)
    const entry: FileManifest = { ...m, name: IMAGE_FILE, mtimeMs: st.mtimeMs, ino: st.ino }
    await saveManifest(partialDir, { version: 0, files: [entry] })
    const final = this.dirOf(m.root)
    if (await this.has(m.root)) {
      await rm(partialDir, { recursive: true, force: true }) // someone else finished it first
      return
    }
    await rm(final, { recursive: true, force: true })
    await rename(partialDir, final).catch((err) => {
      throw fsError('moving into place', final, err)
    })
  }

  /** Copy a local file into the store (publishing), hashed as it is stored. */
  async import(file: string): Promise<{ digest: string; size: number }> {
    const st = await stat(file).catch((err) => {
      throw fsError('reading', file, err)
    })
    if (!st.isFile()) throw vmmpError.io(`reading ${file}`, new Error('not a regular file'))
    const src = await hashFile(file, IMAGE_FILE)
    if (await this.has(src.root)) return { digest: src.root, size: src.size }
    if ((await this.free()) < src.size) throw vmmpError.noSpace(this.dir)
    const tmp = await this.partial(src.root)
    try {
      await copyFile(file, join(tmp, IMAGE_FILE)).catch((err) => {
        throw fsError('copying', file, err)
      })
      // The copy is what will be served: hash it, not the source, which may change meanwhile.
      const copy = await hashFile(join(tmp, IMAGE_FILE), IMAGE_FILE)
      if (copy.root !== src.root) throw vmmpError.corrupt(`${file} changed while it was copied`)
      await buildZ(tmp, copy) // deflated once here, so serving it never deflates (zgroups.ts)
      await this.commit(tmp, copy)
      return { digest: copy.root, size: copy.size }
    } catch (err) {
      await rm(tmp, { recursive: true, force: true })
      throw err
    }
  }

  async remove(digest: string): Promise<void> {
    await rm(this.dirOf(digest), { recursive: true, force: true })
  }

  /** Digests held intact. */
  async list(): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[])
    const out: string[] = []
    for (const n of names) if (DIGEST.test(n) && (await this.has(n))) out.push(n)
    return out
  }

  /** Leftovers of fetches a crash interrupted. */
  async sweepPartials(): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[])
    await Promise.all(
      names.filter((n) => n.startsWith(PARTIAL_PREFIX)).map((n) => rm(join(this.dir, n), { recursive: true })),
    )
  }

  /** blocks@1 authorization of `image:<digest>` channels: any image held here, read-only. */
  async authorize(channelId: string): Promise<Authorization | null> {
    if (!channelId.startsWith(IMAGE_CHANNEL_PREFIX)) return null
    const digest = channelId.slice(IMAGE_CHANNEL_PREFIX.length)
    if (!DIGEST.test(digest) || !(await this.has(digest))) return null
    return { vmId: channelId, dir: this.dirOf(digest), files: [IMAGE_FILE], version: 0 }
  }
}
