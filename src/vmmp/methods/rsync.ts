// RSYNC: block-hash delta against the copy the destination already caches (report §7.2.5, Figures
// 38-40). Fixed 64 KiB blocks; only blocks whose SHA-256 differs cross the wire, many requests in
// flight; each arrives verified against the origin's manifest before it is written in place.
//
// Safety: writes go in place (a staging copy would cost a full local copy of the disk). Before the
// first write the directory's manifest caches are deleted and `.vmmp-incomplete` is written; only a
// verified, fsynced transfer removes it. A failed or aborted pull therefore leaves the destination's
// copy CLEARLY MARKED INVALID (never a half-file taken as good); the next pull re-hashes what is on
// disk and still moves only the difference.
import { mkdir, open, statfs, type FileHandle } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { BlocksClient, MAX_BLOCKS_PER_REQUEST, serveBlocks } from '../blocks.ts'
import { fsError, vmmpError, VMMP_NO_SPACE } from '../errors.ts'
import {
  BLOCK_SIZE,
  HASH_BYTES,
  ZERO_HASH,
  blockCount,
  hashBlock,
  hashFile,
  invalidateManifests,
  loadCachedEntries,
  rootOf,
  saveManifest,
  type FileManifest,
} from '../manifest.ts'
import { checkName, clearIncomplete, listFiles, markIncomplete } from '../paths.ts'
import { Flusher } from '../flusher.ts'
import type { MigrationMethod, PullOptions, PullResult } from './types.ts'

/** 16 requests of up to 1 MiB in flight keep a ~100 MiB/s HyperDHT stream full on loopback. */
export const DEFAULT_INFLIGHT = 16
/** Scattered changes make small requests (one 64 KiB block each): then more of them go at once, up to
 *  this many, keeping about INFLIGHT_BYTES on the way. With 16, 479 single blocks took 3.6 s here
 *  (8 MiB/s: each round waited for the origin's reads), the stream itself carried 43 MiB/s. */
export const MAX_INFLIGHT = 64
export const INFLIGHT_BYTES = DEFAULT_INFLIGHT * MAX_BLOCKS_PER_REQUEST * BLOCK_SIZE

export interface RsyncOptions extends PullOptions {
  inflight?: number
  /** 'arrival' (the default): each block is hashed as it arrives, against the origin's hash list,
   *  before it is written; 'full' also re-hashes every file at the end. Re-reading the blocks written
   *  (as 'written' did) reads the page cache, not the disk: it cost a first trip ~10% of its CPU here. */
  verify?: 'arrival' | 'full'
}

interface Task {
  file: number
  start: number
  count: number
  zero: boolean
}

const ZERO_BUF = Buffer.alloc(BLOCK_SIZE * MAX_BLOCKS_PER_REQUEST)

/**
 * Plan the transfer of one file: runs of blocks to fetch, runs to zero, coalesced up to 1 MiB.
 * `old` is what the destination holds (null: a fresh sparse file, all holes). Hashes are compared in
 * place (a subarray per block cost ~30 ms per 48,000 blocks here).
 */
function plan(file: number, remote: Buffer, size: number, old: FileManifest | null): Task[] {
  const tasks: Task[] = []
  const n = blockCount(size)
  const oldBlocks = old ? blockCount(old.size) : 0
  const sameSize = !!old && old.size === size
  for (let i = 0; i < n; i++) {
    const off = i * HASH_BYTES
    const zero = remote.compare(ZERO_HASH, 0, HASH_BYTES, off, off + HASH_BYTES) === 0
    // What the destination holds at block i after resizing the old copy: its hash, zeros, or unknown.
    const end = i * BLOCK_SIZE + BLOCK_SIZE
    let have: 'old' | 'zero' | 'unknown'
    if (!old || i >= oldBlocks)
      have = 'zero' // fresh file, or a grown region: a hole
    else if (sameSize || end <= Math.min(old.size, size)) have = 'old'
    else have = 'unknown' // the block straddling the old or new end changed length
    if (have === 'zero' && zero) continue
    if (have === 'old' && old!.hashes.compare(remote, off, off + HASH_BYTES, off, off + HASH_BYTES) === 0) continue
    const last = tasks[tasks.length - 1]
    if (
      last &&
      last.file === file &&
      last.zero === zero &&
      last.start + last.count === i &&
      last.count < MAX_BLOCKS_PER_REQUEST
    )
      last.count++
    else tasks.push({ file, start: i, count: 1, zero })
  }
  return tasks
}

/** How many requests to keep in flight: about INFLIGHT_BYTES, between DEFAULT_INFLIGHT and MAX_INFLIGHT. */
function inflightFor(tasks: Task[], bytes: (t: Task) => number): number {
  const fetched = tasks.filter((t) => !t.zero)
  if (!fetched.length) return DEFAULT_INFLIGHT
  const mean = fetched.reduce((s, t) => s + bytes(t), 0) / fetched.length
  return Math.max(DEFAULT_INFLIGHT, Math.min(MAX_INFLIGHT, Math.floor(INFLIGHT_BYTES / mean)))
}

async function ensureSpace(dir: string, bytes: number): Promise<void> {
  try {
    const s = await statfs(dir)
    // Leave 1% slack: metadata and extent allocation cost a little beyond the data itself.
    if (s.bavail * s.bsize < bytes * 1.01) throw vmmpError.noSpace(dir)
  } catch (err) {
    if ((err as { code?: string }).code === VMMP_NO_SPACE) throw err
  }
}

/** Each file's hash list from the origin, except where our cached manifest has the origin's root: then
 *  the list need not cross the wire (the root binds every block hash). The lists come while we hash. */
function originHashes(
  client: BlocksClient,
  files: { name: string; size: number; root: string }[],
  cached: Map<string, FileManifest>,
): { same: boolean[]; fetched: Promise<Buffer>[] } {
  const same = files.map((f) => {
    const m = cached.get(f.name)
    return !!m && m.size === f.size && m.root === f.root && rootOf(m.size, m.hashes) === f.root
  })
  const fetched = files.map((f, i) =>
    same[i]
      ? Promise.resolve(cached.get(f.name)!.hashes)
      : client.hashes(i).then((h) => {
          if (rootOf(f.size, h) !== f.root) throw vmmpError.corrupt(`hash list of ${f.name} does not match its root`)
          return h
        }),
  )
  fetched.forEach((p) => p.catch(() => {})) // awaited later; a failure must not go unhandled meanwhile
  return { same, fetched }
}

/** What we already hold: a still-valid cached entry, else a hash of what is on disk (null: nothing). */
async function localManifests(
  dir: string,
  files: { name: string }[],
  cached: Map<string, FileManifest>,
  signal: AbortSignal | undefined,
  onProgress: () => void,
): Promise<(FileManifest | null)[]> {
  const old: (FileManifest | null)[] = []
  for (const f of files)
    old.push(
      cached.get(f.name) ?? (await hashFile(join(dir, f.name), f.name, { signal, onProgress }).catch(() => null)),
    )
  return old
}

/** Opens (or makes) each file to write into, at the origin's size; handles go into `handles` as they open. */
async function openTargets(
  dir: string,
  files: { name: string; size: number }[],
  old: (FileManifest | null)[],
  handles: FileHandle[],
  openFile: (path: string, flags: string) => Promise<FileHandle> = open,
): Promise<void> {
  for (const [i, f] of files.entries()) {
    const path = join(dir, f.name)
    try {
      await mkdir(dirname(path), { recursive: true })
      const fh = await openFile(path, old[i] ? 'r+' : 'w+')
      handles.push(fh)
      if (!old[i] || old[i]!.size !== f.size) await fh.truncate(f.size)
    } catch (err) {
      throw fsError('opening', path, err)
    }
  }
}

/** Every block of a run that arrived against the origin's hash list. */
function checkBlocks(data: Buffer, len: number, t: Task, hashes: Buffer, name: string): void {
  for (let b = 0; b < t.count; b++) {
    const want = hashes.subarray((t.start + b) * HASH_BYTES, (t.start + b + 1) * HASH_BYTES)
    if (!hashBlock(data.subarray(b * BLOCK_SIZE, Math.min(len, (b + 1) * BLOCK_SIZE))).equals(want))
      throw vmmpError.corrupt(`block ${t.start + b} of ${name} does not match the origin's manifest`)
  }
}

export async function rsyncPull(opts: RsyncOptions): Promise<PullResult> {
  const mux = opts.src.mux
  if (!mux) throw vmmpError.protocol('RSYNC needs src.mux (the HyperDHT connection to the origin)')
  const dir = opts.destDir
  try {
    await mkdir(dir, { recursive: true })
  } catch (err) {
    throw fsError('creating', dir, err)
  }
  let done = 0
  let total = 0
  const client = await BlocksClient.open(mux, opts.migrationId, {
    stallMs: opts.stallMs,
    signal: opts.signal,
    onActivity: () => opts.onProgress?.(done, total),
  })
  const laps = opts.laps
  laps?.lap('open')
  const handles: FileHandle[] = []
  try {
    const files = client.files.map((f) => ({ ...f, name: checkName(f.name) }))
    const cached = await loadCachedEntries(dir)
    const { same, fetched } = originHashes(client, files, cached)
    const old = await localManifests(dir, files, cached, opts.signal, () => client.touch())
    laps?.lap('local manifest')
    const remote = await Promise.all(fetched)
    laps?.lap('hashes')
    const tasks = files.flatMap((f, i) => (same[i] ? [] : plan(i, remote[i], f.size, old[i])))
    const fetchBytes = (t: Task) => Math.min(t.count * BLOCK_SIZE, files[t.file].size - t.start * BLOCK_SIZE)
    total = tasks.reduce((s, t) => s + (t.zero ? 0 : fetchBytes(t)), 0)
    const resized = files.some((f, i) => old[i]?.size !== f.size)
    let bytesWritten = 0
    let verifyFrom = 0

    if (tasks.length > 0 || resized) {
      await markIncomplete(dir, opts.migrationId)
      await invalidateManifests(dir)
      await ensureSpace(dir, total)
      await openTargets(dir, files, old, handles, opts.openFile)
      let next = 0
      let failure: unknown = null
      const flusher = new Flusher(opts.flushEvery)
      const worker = async () => {
        while (!failure && next < tasks.length) {
          const t = tasks[next++]
          const f = files[t.file]
          const pos = t.start * BLOCK_SIZE
          const len = fetchBytes(t)
          let data: Buffer
          if (t.zero) data = ZERO_BUF.subarray(0, len)
          else {
            data = await client.blocks(t.file, t.start, t.count)
            checkBlocks(data, len, t, remote[t.file], f.name)
          }
          try {
            await handles[t.file].write(data, 0, len, pos)
          } catch (err) {
            throw fsError('writing', join(dir, f.name), err)
          }
          flusher.wrote(handles[t.file], len)
          bytesWritten += len
          if (!t.zero) done += len
          opts.onProgress?.(done, total)
        }
      }
      const results = await Promise.allSettled(
        Array.from({ length: opts.inflight ?? inflightFor(tasks, fetchBytes) }, () =>
          worker().catch((err) => {
            failure ??= err
            client.close() // wakes the other workers' pending requests
            throw err
          }),
        ),
      )
      if (failure) throw failure
      void results
      laps?.lap('copy')
      verifyFrom = performance.now()
      await flusher.finish(handles, (i, err) => fsError('syncing', join(dir, files[i].name), err))
    }
    laps?.lap('sync')
    verifyFrom ||= performance.now()
    const fresh = await finalManifest(dir, files, remote, opts.verify === 'full')
    await saveManifest(dir, { version: opts.cacheVersion ?? client.version ?? 0, files: fresh })
    await clearIncomplete(dir)
    laps?.lap('final manifest')
    const names = new Set(files.map((f) => f.name))
    return {
      method: 'RSYNC',
      files: files.map((f) => f.name),
      bytesOnWire: client.bytesOnWire,
      bytesWritten,
      bytesTotal: files.reduce((s, f) => s + f.size, 0),
      extraFiles: (await listFiles(dir)).filter((n) => !names.has(n)),
      verified: true,
      verifyMs: Math.round(performance.now() - verifyFrom),
    }
  } finally {
    client.close()
    await Promise.all(handles.map((h) => h.close().catch(() => {})))
  }
}

/** The manifest to cache for the arrived copy: the origin's hashes with our files' stat stamps (or a full re-hash). */
async function finalManifest(
  dir: string,
  files: { name: string; size: number; root: string }[],
  remote: Buffer[],
  full: boolean,
): Promise<FileManifest[]> {
  const out: FileManifest[] = []
  for (const [i, f] of files.entries()) {
    const path = join(dir, f.name)
    if (full) {
      const m = await hashFile(path, f.name)
      if (m.root !== f.root) throw vmmpError.corrupt(`${f.name} does not match the origin's whole-file hash`)
      out.push(m)
      continue
    }
    const fh = await open(path, 'r').catch((err) => {
      throw fsError('opening', path, err)
    })
    const st = await fh.stat().finally(() => fh.close())
    if (st.size !== f.size) throw vmmpError.corrupt(`${f.name} is ${st.size} bytes, the origin has ${f.size}`)
    if (rootOf(st.size, remote[i]) !== f.root)
      throw vmmpError.corrupt(`${f.name} does not match the origin's whole-file hash`)
    out.push({ name: f.name, size: st.size, root: f.root, hashes: remote[i], mtimeMs: st.mtimeMs, ino: st.ino })
  }
  return out
}

export const rsyncMethod: MigrationMethod = {
  name: 'RSYNC',
  pull: (opts) => rsyncPull(opts),
  serve: (mux, ctx) => serveBlocks(mux, { authorize: ctx.authorize }),
}
