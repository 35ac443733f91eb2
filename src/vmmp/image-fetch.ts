// Fetching an image into an ImageStore over blocks@1 (the block protocol migration uses), from one
// or several sources at once. Every source must announce exactly the catalog's digest and a hash
// list whose root is that digest (else VMMP_DIGEST_MISMATCH); every block is checked against that
// list before it is written (else VMMP_CORRUPT). Integrity failures end the fetch; a source that
// goes away (closed, stalled) only drops out, and the blocks it had in hand go back to the others.
// The sources share one queue of 1 MiB groups, so a faster source simply takes more of them. Groups
// travel deflated (OP_ZGROUP, zgroups.ts) and are kept so on arrival, so this node serves them on.
// A source from before OP_ZGROUP sends its groups as plain blocks (OP_BLOCKS, runs of non-zero
// blocks); they are checked the same way and deflated here, so the kept copy is the same.
import type Protomux from 'protomux'
import { open, rm, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { BlocksClient, isUnknownOp } from './blocks.ts'
import {
  VmmpError,
  fsError,
  vmmpError,
  VMMP_ABORTED,
  VMMP_CORRUPT,
  VMMP_DIGEST_MISMATCH,
  VMMP_IO,
  VMMP_NO_SPACE,
} from './errors.ts'
import { BLOCK_SIZE, HASH_BYTES, hashBlock, rootOf } from './manifest.ts'
import { blockBytes, deflateGroup, groupBlocks, groupCount, inflateGroup, saveZIndex, zDataName } from './zgroups.ts'
import { IMAGE_CHANNEL_PREFIX, IMAGE_FILE, checkDigest, type ImageStore } from './image-store.ts'

/** Requests in flight per source: 16 groups (≤ 1 MiB each) keep one HyperDHT stream full (rsync.ts). */
export const DEFAULT_INFLIGHT = 16
const INTEGRITY = new Set<string>([VMMP_CORRUPT, VMMP_DIGEST_MISMATCH, VMMP_NO_SPACE, VMMP_IO, VMMP_ABORTED])

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
  /** Also hand every verified run to the caller (a provider writes the first machine's disk with it). */
  onData?: (data: Buffer, pos: number) => Promise<void>
}

export interface FetchImageResult {
  /** Image bytes that crossed the network (non-zero blocks); 0 when the store already held it. */
  bytes: number
  bytesOnWire: number
  /** Bytes received from each source, by name. */
  bySource: Record<string, number>
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
  let zfh: FileHandle | null = null
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
    const groups = dataGroups(hashes, opts.size)
    const total = groups.reduce((s, g) => s + g.bytes, 0)
    if ((await opts.store.free()) < total * 1.01) throw vmmpError.noSpace(opts.store.dir)
    tmp = await opts.store.partial(digest)
    const path = join(tmp, IMAGE_FILE)
    const zPath = join(tmp, zDataName(IMAGE_FILE))
    ;[fh, zfh] = await Promise.all([open(path, 'w+'), open(zPath, 'w')]).catch((err) => {
      throw fsError('creating', path, err)
    })
    await fh.truncate(opts.size)
    const bySource: Record<string, number> = {}
    const zIndex: Array<[number, number]> = Array.from({ length: groupCount(opts.size) }, () => [0, 0])
    let zEnd = 0
    let done = 0
    const queue = groups.slice().reverse() // pop() from the end takes the lowest groups first
    let failure: unknown = null
    let alive = clients.length
    const [file, zfile] = [fh, zfh]
    // Workers with nothing to take wait while others still hold groups: a source that drops out puts
    // its groups back, and they must still be fetched by whoever is left.
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
        const g = queue.pop()
        if (!g) {
          if (busy === 0) return
          await changed
          continue
        }
        busy++
        try {
          const what = `group ${g.index} of image ${digest.slice(0, 12)}… from ${name}`
          let got: { packed: Buffer; data: Buffer }
          try {
            got = await fetchGroup(client, g, opts.size, what)
          } catch (err) {
            queue.push(g) // another source takes it
            throw err
          }
          const { packed, data } = got
          let off = 0
          for (const i of g.blocks) {
            const len = blockBytes(i, opts.size)
            const want = hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES)
            if (!hashBlock(data.subarray(off, off + len)).equals(want))
              throw vmmpError.corrupt(`block ${i} of image ${digest.slice(0, 12)}… from ${name}`)
            off += len
          }
          const zAt = zEnd
          zEnd += packed.length
          zIndex[g.index] = [zAt, packed.length]
          await Promise.all([
            writeRuns(file, g.blocks, data, opts.size, opts.onData),
            zfile.write(packed, 0, packed.length, zAt),
          ]).catch((err) => {
            throw err instanceof VmmpError ? err : fsError('writing', path, err)
          })
          done += g.bytes
          bySource[name] = (bySource[name] ?? 0) + g.bytes
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
        const code = err.reason instanceof VmmpError ? err.reason.code : VMMP_IO
        // A lying or broken source, or our own disk: stop everything. A vanished source: the rest go on.
        if (INTEGRITY.has(code) || alive === 0) failure ??= err.reason
        client.close()
        if (failure) for (const c of clients) c.client.close()
        signal()
      }),
    )
    if (failure) throw failure
    if (queue.length > 0) throw vmmpError.closed(`fetching image ${digest.slice(0, 12)}…`)
    await Promise.all([fh.sync(), zfh.sync()]).catch((err) => {
      throw fsError('syncing', path, err)
    })
    await Promise.all([fh.close(), zfh.close()])
    fh = zfh = null
    // The groups as they arrived: this node serves them compressed without deflating them again.
    await saveZIndex(tmp, IMAGE_FILE, digest, zIndex)
    await opts.store.commit(tmp, { size: opts.size, root: digest, hashes })
    tmp = null
    return { bytes: done, bytesOnWire: clients.reduce((s, c) => s + c.client.bytesOnWire, 0), bySource }
  } finally {
    for (const c of clients) c.client.close()
    await fh?.close().catch(() => {})
    await zfh?.close().catch(() => {})
    if (tmp) await rm(tmp, { recursive: true, force: true }) // no half-made image stays behind
  }
}

interface Group {
  index: number
  blocks: number[]
  bytes: number
}

/** A group's non-zero blocks (unverified) and their deflated form, however the source can send them. */
async function fetchGroup(
  client: BlocksClient,
  g: Group,
  size: number,
  what: string,
): Promise<{ packed: Buffer; data: Buffer }> {
  if (client.zgroups) {
    try {
      const packed = await client.zgroup(0, g.index)
      return { packed, data: await inflateGroup(packed, g.bytes, what) }
    } catch (err) {
      if (!isUnknownOp(err)) throw err
      client.zgroups = false // a source from before OP_ZGROUP: plain blocks from now on
    }
  }
  const parts: Promise<Buffer>[] = []
  for (let k = 0; k < g.blocks.length;) {
    let n = 1
    while (k + n < g.blocks.length && g.blocks[k + n] === g.blocks[k] + n) n++
    parts.push(client.blocks(0, g.blocks[k], n))
    k += n
  }
  const data = Buffer.concat(await Promise.all(parts))
  if (data.length !== g.bytes) throw vmmpError.corrupt(`${what}: ${data.length} bytes, not ${g.bytes}`)
  return { packed: await deflateGroup(data), data }
}

/** Groups that hold data: zero blocks stay holes and never cross the link. */
function dataGroups(hashes: Buffer, size: number): Group[] {
  const out: Group[] = []
  for (let g = 0; g < groupCount(size); g++) {
    const blocks = groupBlocks(hashes, size, g)
    if (blocks.length) out.push({ index: g, blocks, bytes: blocks.reduce((s, i) => s + blockBytes(i, size), 0) })
  }
  return out
}

/** Write a group's verified blocks where they belong, in runs of consecutive blocks. */
async function writeRuns(
  fh: FileHandle,
  blocks: number[],
  data: Buffer,
  size: number,
  onData?: (data: Buffer, pos: number) => Promise<void>,
): Promise<void> {
  let off = 0
  for (let k = 0; k < blocks.length;) {
    let n = 1
    while (k + n < blocks.length && blocks[k + n] === blocks[k] + n) n++
    const pos = blocks[k] * BLOCK_SIZE
    const len = Math.min(n * BLOCK_SIZE, size - pos)
    const run = data.subarray(off, off + len)
    await Promise.all([fh.write(run, 0, len, pos), onData?.(run, pos)])
    off += len
    k += n
  }
}
