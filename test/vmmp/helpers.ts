// Test and benchmark images: sparse files with a chosen fraction of 64 KiB blocks holding random
// data (in runs, like a filesystem's extents), and in-place edits of a fraction of blocks.
import { open, truncate, type FileHandle } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { BLOCK_SIZE } from '../../src/vmmp/manifest.ts'
import { prng } from '../prng.ts'

/** A sparse file of `size` bytes with about `dataFraction` of its blocks filled, in runs of up to 64 blocks. */
export async function makeImage(path: string, size: number, dataFraction: number, seed = 1): Promise<number> {
  await truncate(path, 0).catch(() => {})
  const fh = await open(path, 'w')
  await fh.truncate(size)
  const rand = prng(seed)
  const blocks = Math.ceil(size / BLOCK_SIZE)
  let want = Math.round(blocks * dataFraction)
  let written = 0
  while (want > 0) {
    const run = Math.min(want, 1 + Math.floor(rand() * 64))
    const start = Math.floor(rand() * Math.max(1, blocks - run))
    const len = Math.min(run * BLOCK_SIZE, size - start * BLOCK_SIZE)
    await fh.write(randomBytes(len), 0, len, start * BLOCK_SIZE)
    written += len
    want -= run
  }
  await fh.close()
  return written
}

/** Overwrite `fraction` of the blocks (scattered, distinct) with random data; returns their indices. */
export async function touchBlocks(path: string, size: number, fraction: number, seed = 2): Promise<number[]> {
  const rand = prng(seed)
  const blocks = Math.ceil(size / BLOCK_SIZE)
  const pick = new Set<number>()
  const n = Math.max(1, Math.round(blocks * fraction))
  while (pick.size < n) pick.add(Math.floor(rand() * blocks))
  const fh = await open(path, 'r+')
  for (const i of pick) {
    const len = Math.min(BLOCK_SIZE, size - i * BLOCK_SIZE)
    await fh.write(randomBytes(len), 0, len, i * BLOCK_SIZE)
  }
  await fh.close()
  return [...pick].sort((a, b) => a - b)
}

export type SyncEvent = { path: string; op: 'write' | 'sync' | 'datasync'; started?: number }
/** Opens files as a pull would, logging each completed write and each sync (with where it started). */
export function loggedOpen(log: SyncEvent[], failDatasync = false) {
  return async (path: string, flags: string): Promise<FileHandle> => {
    const fh = await open(path, flags)
    return new Proxy(fh, {
      get(target, prop) {
        const v = Reflect.get(target, prop)
        if (typeof v !== 'function') return v
        if (prop === 'write')
          return async (...a: unknown[]) => {
            const r = await v.apply(target, a)
            log.push({ path, op: 'write' })
            return r
          }
        if (prop === 'sync' || prop === 'datasync')
          return async () => {
            const started = log.length
            if (prop === 'datasync' && failDatasync) throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })
            await v.apply(target)
            log.push({ path, op: prop, started })
          }
        return v.bind(target)
      },
    })
  }
}
