// Block manifests: zero blocks marked, roots stable, the cache trusted only while files are unchanged,
// and the method registry that QUERY answers from.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm, writeFile, readFile, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  BLOCK_SIZE,
  ZERO_HASH,
  blockHash,
  hashFile,
  manifestFor,
  manifestPath,
  manifestStats,
  parseManifest,
  serializeManifest,
  loadCachedEntries,
} from '../../src/vmmp/manifest.ts'
import { defaultMethods, MethodRegistry } from '../../src/vmmp/methods/index.ts'
import { checkName } from '../../src/vmmp/paths.ts'
import { makeImage, touchBlocks } from './helpers.ts'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vmmp-man-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('manifest', () => {
  it('hashes fixed 64 KiB blocks, marks zero blocks, handles a short last block', async () => {
    const p = join(dir, 'a')
    const data = Buffer.alloc(3 * BLOCK_SIZE + 100)
    data[BLOCK_SIZE + 5] = 1
    data[3 * BLOCK_SIZE + 99] = 2
    await writeFile(p, data)
    const m = await hashFile(p, 'a')
    expect(m.hashes.length).toBe(4 * 32)
    expect(blockHash(m, 0).equals(ZERO_HASH)).toBe(true)
    expect(blockHash(m, 1).equals(ZERO_HASH)).toBe(false)
    expect(blockHash(m, 2).equals(ZERO_HASH)).toBe(true)
    expect(blockHash(m, 3).equals(ZERO_HASH)).toBe(false)
    expect(manifestStats({ version: 1, files: [m] })).toMatchObject({
      blocks: 4,
      zeroBlocks: 2,
      dataBytes: BLOCK_SIZE + 100,
    })
    const other = await hashFile(p, 'a')
    expect(other.root).toBe(m.root)
    data[7] = 9
    await writeFile(p, data)
    expect((await hashFile(p, 'a')).root).not.toBe(m.root)
  })

  it('caches per version and trusts an entry only while the file is unchanged', async () => {
    const p = join(dir, 'img')
    await makeImage(p, 8 * 1024 * 1024, 0.3)
    const first = await manifestFor(dir, ['img'], 3)
    expect(await readdir(dir)).toContain('.manifest-3.bin')
    expect((await loadCachedEntries(dir)).get('img')?.root).toBe(first.files[0].root)
    const raw = await readFile(manifestPath(dir, 3))
    expect(parseManifest(raw)?.files[0].root).toBe(first.files[0].root)
    raw[raw.length - 40] ^= 1
    expect(parseManifest(raw)).toBe(null) // a damaged cache is recomputed, never trusted
    await touchBlocks(p, 8 * 1024 * 1024, 0.01)
    expect((await loadCachedEntries(dir)).has('img')).toBe(false)
    const second = await manifestFor(dir, ['img'], 4)
    expect(second.files[0].root).not.toBe(first.files[0].root)
    expect(parseManifest(serializeManifest(second))?.files[0].hashes.equals(second.files[0].hashes)).toBe(true)
    expect((await loadCachedEntries(dir)).get('img')?.root).toBe(second.files[0].root)
    // Only the newest manifest stays: it lists every file, and each trip would leave another.
    expect((await readdir(dir)).filter((n) => n.startsWith('.manifest-'))).toEqual(['.manifest-4.bin'])
    await manifestFor(dir, ['img'], 5)
    expect((await readdir(dir)).filter((n) => n.startsWith('.manifest-'))).toEqual(['.manifest-5.bin'])
    expect((await loadCachedEntries(dir)).get('img')?.root).toBe(second.files[0].root)
  })

  it('rejects unsafe file names from a peer', () => {
    for (const n of ['../x', '/etc/passwd', 'a/../b', '.manifest-1.bin', '.vmmp-incomplete', '', 'a\\b'])
      expect(() => checkName(n)).toThrow()
    expect(checkName('disk-f001.vmdk')).toBe('disk-f001.vmdk')
  })
})

describe('method registry', () => {
  it('answers QUERY from what is registered and rejects unknown methods', () => {
    const reg = defaultMethods()
    expect(reg.names()).toEqual(['RSYNC', 'SCP'])
    reg.register({
      name: 'ZFS_SEND',
      pull: async () => {
        throw new Error('n/a')
      },
    })
    expect(reg.names()).toEqual(['RSYNC', 'SCP', 'ZFS_SEND'])
    expect(() => reg.get('NOPE')).toThrow(expect.objectContaining({ code: 'VMMP_UNKNOWN_METHOD' }))
    expect(() =>
      new MethodRegistry().register({
        name: 'bad name',
        pull: async () => {
          throw new Error()
        },
      }),
    ).toThrow()
  })
})
