// Per-file block manifests: fixed, aligned 64 KiB blocks (guests write disk images in place, so a
// rolling checksum buys nothing), SHA-256 per block, all-zero blocks marked by 32 zero bytes (no
// SHA-256 output is all zero, and zero blocks are never hash-compared: `isZero` is a memcmp), plus a
// whole-file hash. That whole-file hash is a SHA-256 hash-list root, SHA-256("vmmp-root-1" | u64 size |
// block hashes), not sha256sum's value: it binds every byte just as strongly (a zero block's entry is
// only ever produced by zeros) but checking it never hashes the zeros of a sparse disk a second time,
// which measured 1 s per GiB here and would dominate a 1%-changed migration. Cached next to the machine as
// `.manifest-<version>.bin` so an unchanged machine
// moves without its disk being read again; each file entry is trusted only while the file's size,
// mtime and inode still match what was recorded when it was hashed.
import { createHash, hash as oneShot } from 'node:crypto'
import { open, readdir, rename, rm, stat, writeFile, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fsError, vmmpError } from './errors.ts'
import { dataRanges } from './holes.ts'

export const BLOCK_SIZE = 64 * 1024
export const HASH_BYTES = 32
/** Read size while hashing: large reads keep syscalls off the profile; holes read back as zeros fast. */
export const READ_CHUNK = 4 * 1024 * 1024
export const ZERO_HASH: Buffer = Buffer.alloc(HASH_BYTES)
const ZERO_BLOCK = Buffer.alloc(BLOCK_SIZE)
const MAGIC = Buffer.from('VMMF1\n')

export interface FileManifest {
  /** Path relative to the machine directory, '/'-separated. */
  name: string
  size: number
  /** Whole-file hash: the SHA-256 hash-list root (see rootOf), hex. */
  root: string
  /** HASH_BYTES per block; ZERO_HASH for an all-zero block. */
  hashes: Buffer
  /** Stat stamp when hashed: the cache entry is valid only while these match. */
  mtimeMs: number
  ino: number
}

export interface MachineManifest {
  version: number | null
  files: FileManifest[]
}

export interface HashOptions {
  signal?: AbortSignal
  /** Called after each chunk with bytes hashed so far in this file (keeps stall timers fed). */
  onProgress?: (bytes: number) => void
}

export const blockCount = (size: number): number => Math.ceil(size / BLOCK_SIZE)
export const blockHash = (m: FileManifest, i: number): Buffer => m.hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES)
export const isZeroHash = (h: Buffer): boolean => h.equals(ZERO_HASH)

/** True if the block is all zeros (a short last block counts its own length only). */
export function isZero(block: Buffer): boolean {
  return block.length === BLOCK_SIZE ? block.equals(ZERO_BLOCK) : block.equals(ZERO_BLOCK.subarray(0, block.length))
}

const ROOT_TAG = Buffer.from('vmmp-root-1')

/** The whole-file hash: SHA-256 over a domain tag, the size and the block hash list. */
export function rootOf(size: number, hashes: Buffer): string {
  const len = Buffer.alloc(8)
  len.writeBigUInt64BE(BigInt(size))
  return createHash('sha256').update(ROOT_TAG).update(len).update(hashes).digest('hex')
}

/** SHA-256 of one block, or ZERO_HASH when it is all zeros. */
export function hashBlock(block: Buffer): Buffer {
  return isZero(block) ? ZERO_HASH : (oneShot('sha256', block, 'buffer') as unknown as Buffer)
}

/** Hash one file in a single sequential pass over its data (holes skipped): block hashes, then the root. */
export async function hashFile(path: string, name: string, opts: HashOptions = {}): Promise<FileManifest> {
  let fh
  try {
    fh = await open(path, 'r')
  } catch (err) {
    throw fsError('opening', path, err)
  }
  try {
    const st = await fh.stat()
    const size = st.size
    const hashes = Buffer.alloc(blockCount(size) * HASH_BYTES)
    const buf = Buffer.allocUnsafe(READ_CHUNK)
    // Blocks wholly inside a hole keep their ZERO_HASH (hashes starts zero-filled) and are never read.
    for (const [from, to] of blockRanges((await dataRanges(path, size)) ?? [[0, size]], size)) {
      let pos = from
      while (pos < to) {
        if (opts.signal?.aborted) throw vmmpError.aborted()
        const want = Math.min(READ_CHUNK, to - pos)
        let got = 0
        while (got < want) {
          const { bytesRead } = await fh.read(buf, got, want - got, pos + got)
          if (bytesRead === 0) throw vmmpError.io(`reading ${path}`, new Error('file shrank while hashing'))
          got += bytesRead
        }
        const chunk = buf.subarray(0, want)
        for (let off = 0; off < want; off += BLOCK_SIZE) {
          hashBlock(chunk.subarray(off, Math.min(off + BLOCK_SIZE, want))).copy(
            hashes,
            ((pos + off) / BLOCK_SIZE) * HASH_BYTES,
          )
        }
        pos += want
        opts.onProgress?.(pos)
      }
    }
    return { name, size, root: rootOf(size, hashes), hashes, mtimeMs: st.mtimeMs, ino: st.ino }
  } catch (err) {
    throw fsError('reading', path, err)
  } finally {
    await fh.close()
  }
}

/** Byte ranges widened to whole blocks and merged: the blocks that must be read and hashed. */
export function blockRanges(ranges: Array<[number, number]>, size: number): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (const [s, e] of ranges) {
    if (e <= s) continue
    const from = Math.floor(s / BLOCK_SIZE) * BLOCK_SIZE
    const to = Math.min(size, Math.ceil(e / BLOCK_SIZE) * BLOCK_SIZE)
    const last = out[out.length - 1]
    if (last && from <= last[1]) last[1] = Math.max(last[1], to)
    else out.push([from, to])
  }
  return out
}

export const manifestPath = (dir: string, version: number): string => join(dir, `.manifest-${version}.bin`)
const MANIFEST_NAME = /^\.manifest-(\d+)\.bin$/

/** Binary cache file: MAGIC | u32 header length | JSON header | hashes of each file | SHA-256 of all before. */
export function serializeManifest(m: MachineManifest): Buffer {
  const header = Buffer.from(
    JSON.stringify({ version: m.version, blockSize: BLOCK_SIZE, files: m.files.map(({ hashes, ...rest }) => rest) }),
  )
  const len = Buffer.alloc(4)
  len.writeUInt32BE(header.length)
  const body = Buffer.concat([MAGIC, len, header, ...m.files.map((f) => f.hashes)])
  return Buffer.concat([body, createHash('sha256').update(body).digest()])
}

/** Parse a cache file; null if it is damaged or from another block size (then it is recomputed). */
export function parseManifest(buf: Buffer): MachineManifest | null {
  try {
    if (buf.length < MAGIC.length + 4 + HASH_BYTES || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return null
    const body = buf.subarray(0, buf.length - HASH_BYTES)
    if (
      !createHash('sha256')
        .update(body)
        .digest()
        .equals(buf.subarray(buf.length - HASH_BYTES))
    )
      return null
    const hlen = body.readUInt32BE(MAGIC.length)
    const header = JSON.parse(body.subarray(MAGIC.length + 4, MAGIC.length + 4 + hlen).toString())
    if (header.blockSize !== BLOCK_SIZE) return null
    let off = MAGIC.length + 4 + hlen
    const files: FileManifest[] = []
    for (const f of header.files) {
      const n = blockCount(f.size) * HASH_BYTES
      files.push({ ...f, hashes: Buffer.from(body.subarray(off, off + n)) })
      off += n
    }
    return off === body.length ? { version: header.version, files } : null
  } catch {
    return null
  }
}

export async function saveManifest(dir: string, m: MachineManifest & { version: number }): Promise<void> {
  const path = manifestPath(dir, m.version)
  const tmp = `${path}.tmp-${process.pid}`
  try {
    await writeFile(tmp, serializeManifest(m))
    await rename(tmp, path) // atomic: a reader sees the old cache or the new one, never half of one
  } catch (err) {
    await rm(tmp, { force: true })
    throw fsError('writing manifest', path, err)
  }
  await dropOlder(dir, m.version)
}

/** The newest manifest lists every file of the machine; older ones only cost reading them. Every trip
 *  left one (1.5 MB for a 3000 MB disk), and after a dozen round trips reading and checking them all took
 *  each provider ~50 ms of CPU per migration here, most of it garbage collection. */
async function dropOlder(dir: string, keep: number): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[])
  const old = names.filter((n) => MANIFEST_NAME.exec(n) !== null && n !== `.manifest-${keep}.bin`)
  await Promise.all(old.map((n) => rm(join(dir, n), { force: true })))
}

async function stamp(path: string): Promise<{ size: number; mtimeMs: number; ino: number } | null> {
  try {
    const st = await stat(path)
    return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino }
  } catch {
    return null
  }
}

/** The cached entries that still describe the files on disk, newest version first per file name. */
export async function loadCachedEntries(dir: string): Promise<Map<string, FileManifest>> {
  const out = new Map<string, FileManifest>()
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return out
  }
  const versions = names
    .map((n) => MANIFEST_NAME.exec(n))
    .filter((m) => m !== null)
    .map((m) => Number(m![1]))
    .sort((a, b) => b - a)
  for (const v of versions) {
    let m: MachineManifest | null
    try {
      m = parseManifest(await readFile(manifestPath(dir, v)))
    } catch {
      m = null
    }
    for (const f of m?.files ?? []) {
      if (out.has(f.name)) continue
      const st = await stamp(join(dir, f.name))
      if (st && st.size === f.size && st.mtimeMs === f.mtimeMs && st.ino === f.ino) out.set(f.name, f)
    }
  }
  return out
}

export interface ManifestOptions extends HashOptions {
  /** Save the result as `.manifest-<version>.bin` (default true when a version is given). */
  save?: boolean
}

/**
 * The manifest of a machine's files: cached entries where the stat stamp still matches, the rest
 * hashed now. With a version, the result is cached for the next migration of that version.
 */
export async function manifestFor(
  dir: string,
  files: string[],
  version: number | null,
  opts: ManifestOptions = {},
): Promise<MachineManifest> {
  const cached = await loadCachedEntries(dir)
  const out: FileManifest[] = []
  let fresh = false
  for (const name of files) {
    const hit = cached.get(name)
    if (hit) {
      out.push(hit)
      continue
    }
    out.push(await hashFile(join(dir, name), name, opts))
    fresh = true
  }
  const m = { version, files: out }
  // A cancelled job (warm-manifests.ts: its machine is being removed) must not write into the directory.
  if (opts.signal?.aborted) throw vmmpError.aborted()
  const known = version !== null && cached.size > 0 && !fresh && (await stamp(manifestPath(dir, version))) !== null
  if (version !== null && opts.save !== false && !known) await saveManifest(dir, { version, files: out })
  return m
}

/** Forget every cached manifest in a directory: its files are about to change in place. */
export async function invalidateManifests(dir: string): Promise<void> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return
  }
  await Promise.all(names.filter((n) => /^\.manifest-\d+\.bin/.test(n)).map((n) => rm(join(dir, n), { force: true })))
}

/** Total bytes of a manifest's files, and of their non-zero blocks (what actually has to move). */
export function manifestStats(m: MachineManifest): {
  bytes: number
  dataBytes: number
  blocks: number
  zeroBlocks: number
} {
  let bytes = 0,
    dataBytes = 0,
    blocks = 0,
    zeroBlocks = 0
  for (const f of m.files) {
    bytes += f.size
    const n = blockCount(f.size)
    blocks += n
    for (let i = 0; i < n; i++) {
      if (isZeroHash(blockHash(f, i))) zeroBlocks++
      else dataBytes += Math.min(BLOCK_SIZE, f.size - i * BLOCK_SIZE)
    }
  }
  return { bytes, dataBytes, blocks, zeroBlocks }
}
