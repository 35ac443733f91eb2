// A provider's image cache on real files: over its cap, the least recently used image goes first;
// an image a store in progress has pinned (until its machine's disk is made) and an image this node
// published stay; for room before a fetch, images go until the room is there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ImageStore } from '../../src/vmmp/image-store.ts'
import { ImageCache } from '../../src/provider/image-cache.ts'
import { makeImage } from '../vmmp/helpers.ts'

const MiB = 1024 * 1024
let root: string
const digests: string[] = []
let store: ImageStore
let perImage = 0

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'image-cache-'))
  store = new ImageStore(join(root, 'images'))
  for (let i = 0; i < 4; i++) {
    await makeImage(join(root, `i${i}.img`), 4 * MiB, 0.5, i + 1)
    digests.push((await store.import(join(root, `i${i}.img`))).digest)
  }
  const cache = new ImageCache(store)
  perImage = Math.max(...(await cache.usage()).images.map((i) => i.bytes))
})

afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

describe('image cache eviction', () => {
  it('over its cap: least recently used first, never a pinned or a published image', async () => {
    const cache = new ImageCache(store, { maxBytes: Math.ceil(perImage * 1.5) })
    // Use order: 2 (oldest), 0, 1, 3 (newest); 2 is pinned by a store in progress, 0 was published here.
    for (const i of [2, 0, 1, 3]) {
      await cache.touch(digests[i])
      await new Promise((r) => setTimeout(r, 20)) // distinct mtimes
    }
    cache.pin(digests[2], 'vm-a')
    await cache.markPublished(digests[0])
    const gone = await cache.trim(digests[3])
    expect(gone).toEqual([digests[1]]) // 2 pinned, 0 published, 3 kept (just fetched): only 1 may go
    expect(await store.list()).toEqual(expect.arrayContaining([digests[0], digests[2], digests[3]]))
    expect(await store.has(digests[1])).toBe(false)
    cache.unpin(digests[2], 'vm-a') // its disk was made
    expect(await cache.trim(digests[3])).toEqual([digests[2]])
  })

  it('for room before a fetch: evicts until the room is there, then stops', async () => {
    let free = 0
    const tight = new ImageStore(store.dir, { freeBytes: async () => free })
    const cache = new ImageCache(tight)
    free = 0
    // Only digests[3] (unpublished, unpinned) may go; the fetch keeps the digest it is for.
    const gone = await cache.makeRoom(1, 'f'.repeat(64))
    expect(gone).toEqual([digests[3]])
    free = 10 * MiB
    expect(await cache.makeRoom(MiB, 'f'.repeat(64))).toEqual([])
  })
})
