// Fetching an image into an ImageStore over blocks@1 (the block protocol migration uses), from one
// or several sources at once. Every source must announce exactly the catalog's digest and a hash
// list whose root is that digest (else VMMP_DIGEST_MISMATCH); every block is checked against that
// list before it is written (else VMMP_CORRUPT). Integrity failures end the fetch; a source that
// goes away (closed, stalled) only drops out, and the blocks it had in hand go back to the others.
// The sources share one queue of block runs, so a faster source simply takes more of them.
import type Protomux from 'protomux'
import { open, rm, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { BlocksClient, MAX_BLOCKS_PER_REQUEST } from './blocks.ts'
import { VmmpError, fsError, vmmpError } from './errors.ts'
import { BLOCK_SIZE, HASH_BYTES, blockCount, hashBlock, isZeroHash, rootOf } from './manifest.ts'
import { IMAGE_CHANNEL_PREFIX, IMAGE_FILE, checkDigest, type ImageStore } from './image-store.ts'

/** Requests in flight per source: 16 × 1 MiB keeps one ~100 MiB/s HyperDHT stream full (rsync.ts). */
export const DEFAULT_INFLIGHT = 16
const INTEGRITY = new Set(['VMMP_CORRUPT', 'VMMP_DIGEST_MISMATCH', 'VMMP_NO_SPACE', 'VMMP_IO', 'VMMP_ABORTED'])

export interface ImageSource {
  /** For messages and per-source counts ('hub', a node key prefix). */
  name: string
  mux: Protomux
}

export interface FetchImageOptions {
  store: ImageStore
  digest: string
  size: number
  sources: ImageSource[]
  inflight?: number
  stallMs?: number
  signal?: AbortSignal
  onProgress?: (bytesDone: number, bytesTotal: number) => void
}

export interface FetchImageResult {
  /** Image bytes that crossed the network (non-zero blocks); 0 when the store already held it. */
  bytes: number
  bytesOnWire: number
  /** Bytes received from each source, by name. */
  bySource: Record<string, number>
}

interface Run {
  start: number
  count: number
}

/** Fetch `digest` into the store unless it is there already. */
export async function fetchImage(opts: FetchImageOptions): Promise<FetchImageResult> {
  const digest = checkDigest(opts.digest)
  if (await opts.store.has(digest)) return { bytes: 0, bytesOnWire: 0, bySource: {} }
  if (opts.sources.length === 0) throw vmmpError.closed(`fetching image ${digest.slice(0, 12)}: no source holds it`)
  const clients: Array<{ name: string; client: BlocksClient }> = []
  let lastOpenError: unknown = null
  await Promise.all(
    opts.sources.map(async (s) => {
      try {
        const client = await BlocksClient.open(s.mux, IMAGE_CHANNEL_PREFIX + digest, {
          stallMs: opts.stallMs,
          signal: opts.signal,
        })
        clients.push({ name: s.name, client })
      } catch (err) {
        lastOpenError = err
      }
    }),
  )
  if (clients.length === 0) throw lastOpenError ?? vmmpError.closed('opening every image source')
  let tmp: string | null = null
  let fh: FileHandle | null = null
  try {
    for (const { name, client } of clients) {
      const f = client.files
      if (f.length !== 1 || f[0].size !== opts.size || f[0].root !== digest)
        throw vmmpError.digestMismatch(
          `${name} announces ${f[0]?.root?.slice(0, 12) ?? 'nothing'}…, not ${digest.slice(0, 12)}…`,
        )
    }
    const hashes = await clients[0].client.hashes(0)
    if (rootOf(opts.size, hashes) !== digest)
      throw vmmpError.digestMismatch(`the block list from ${clients[0].name} does not hash to ${digest.slice(0, 12)}…`)
    const runs = plan(hashes, opts.size)
    const total = runs.reduce((s, r) => s + runBytes(r, opts.size), 0)
    if ((await opts.store.free()) < total * 1.01) throw vmmpError.noSpace(opts.store.dir)
    tmp = await opts.store.partial(digest)
    const path = join(tmp, IMAGE_FILE)
    fh = await open(path, 'w+').catch((err) => {
      throw fsError('creating', path, err)
    })
    await fh.truncate(opts.size)
    const bySource: Record<string, number> = {}
    let done = 0
    const queue = runs.slice().reverse() // pop() from the end takes the lowest blocks first
    let failure: unknown = null
    let alive = clients.length
    const file = fh
    // Workers with nothing to take wait while others still hold runs: a source that drops out puts
    // its runs back, and they must still be fetched by whoever is left.
    let busy = 0
    let wake!: () => void
    let changed = new Promise<void>((r) => (wake = r))
    const signal = () => {
      const w = wake
      changed = new Promise<void>((r) => (wake = r))
      w()
    }
    const worker = async (name: string, client: BlocksClient) => {
      while (!failure && !client.error) {
        const r = queue.pop()
        if (!r) {
          if (busy === 0) return
          await changed
          continue
        }
        busy++
        try {
          let data: Buffer
          try {
            data = await client.blocks(0, r.start, r.count)
          } catch (err) {
            queue.push(r) // another source takes it
            throw err
          }
          const len = runBytes(r, opts.size)
          for (let b = 0; b < r.count; b++) {
            const want = hashes.subarray((r.start + b) * HASH_BYTES, (r.start + b + 1) * HASH_BYTES)
            if (!hashBlock(data.subarray(b * BLOCK_SIZE, Math.min(len, (b + 1) * BLOCK_SIZE))).equals(want))
              throw vmmpError.corrupt(`block ${r.start + b} of image ${digest.slice(0, 12)}… from ${name}`)
          }
          await file.write(data, 0, len, r.start * BLOCK_SIZE).catch((err) => {
            throw fsError('writing', path, err)
          })
          done += len
          bySource[name] = (bySource[name] ?? 0) + len
          opts.onProgress?.(done, total)
        } finally {
          busy--
          signal()
        }
      }
    }
    // Workers start in turns across the sources, so a small image is not all taken by the first one.
    const n = opts.inflight ?? DEFAULT_INFLIGHT
    const perSource = clients.map(() => [] as Promise<void>[])
    for (let k = 0; k < n; k++) clients.forEach((c, i) => perSource[i].push(worker(c.name, c.client)))
    await Promise.all(
      clients.map(async ({ client }, i) => {
        const results = await Promise.allSettled(perSource[i])
        const err = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined
        if (!err) return
        alive--
        const code = err.reason instanceof VmmpError ? err.reason.code : 'VMMP_IO'
        // A lying or broken source, or our own disk: stop everything. A vanished source: the rest go on.
        if (INTEGRITY.has(code) || alive === 0) failure ??= err.reason
        client.close()
        if (failure) for (const c of clients) c.client.close()
        signal()
      }),
    )
    if (failure) throw failure
    if (queue.length > 0) throw vmmpError.closed(`fetching image ${digest.slice(0, 12)}…`)
    await fh.sync().catch((err) => {
      throw fsError('syncing', path, err)
    })
    await fh.close()
    fh = null
    await opts.store.commit(tmp, { size: opts.size, root: digest, hashes })
    tmp = null
    return { bytes: done, bytesOnWire: clients.reduce((s, c) => s + c.client.bytesOnWire, 0), bySource }
  } finally {
    for (const c of clients) c.client.close()
    await fh?.close().catch(() => {})
    if (tmp) await rm(tmp, { recursive: true, force: true }) // no half-made image stays behind
  }
}

/** Runs of non-zero blocks, at most MAX_BLOCKS_PER_REQUEST long: zero blocks stay holes. */
function plan(hashes: Buffer, size: number): Run[] {
  const runs: Run[] = []
  const n = blockCount(size)
  for (let i = 0; i < n; i++) {
    if (isZeroHash(hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES))) continue
    const last = runs[runs.length - 1]
    if (last && last.start + last.count === i && last.count < MAX_BLOCKS_PER_REQUEST) last.count++
    else runs.push({ start: i, count: 1 })
  }
  return runs
}

const runBytes = (r: Run, size: number) => Math.min(r.count * BLOCK_SIZE, size - r.start * BLOCK_SIZE)
