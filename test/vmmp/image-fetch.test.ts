// Image fetches over blocks@1 between real HyperDHT peers on a loopback testnet: one source, two
// sources splitting the blocks, a cache hit (0 bytes), a corrupt block, a lying manifest, a source
// that vanishes (the other finishes), the only source vanishing, and a full disk.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import createTestnet from 'hyperdht/testnet.js'
import DHT, { type NoiseSocket } from 'hyperdht'
import Protomux from 'protomux'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serveBlocks, type BlocksServerOptions } from '../../src/vmmp/blocks.ts'
import { ImageStore } from '../../src/vmmp/image-store.ts'
import { fetchImage, type ImageSource } from '../../src/vmmp/image-fetch.ts'
import { makeImage } from './helpers.ts'
import { manifestStats } from '../../src/vmmp/manifest.ts'

const SIZE = 32 * 1024 * 1024
let testnet: Awaited<ReturnType<typeof createTestnet>>
let root: string
let digest: string
let dataBytes: number
const sources: Array<{ keys: ReturnType<typeof DHT.keyPair>; store: ImageStore; sockets: NoiseSocket[] }> = []
const hooks: Array<Pick<BlocksServerOptions, 'mutateBlock' | 'mutateHashes' | 'delayMs'>> = [{}, {}]

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'image-fetch-'))
  await makeImage(join(root, 'src.img'), SIZE, 0.5)
  testnet = await createTestnet(3)
  for (let i = 0; i < 2; i++) {
    const store = new ImageStore(join(root, `source${i}`))
    digest = (await store.import(join(root, 'src.img'))).digest
    // Runs of random data may overlap: count what the manifest says is not zero.
    dataBytes = manifestStats({ version: 0, files: [(await store.manifest(digest))!] }).dataBytes
    const keys = DHT.keyPair()
    const entry = { keys, store, sockets: [] as NoiseSocket[] }
    const server = testnet.createNode().createServer((socket) => {
      socket.on('error', () => {})
      entry.sockets.push(socket)
      const h = hooks[i]
      serveBlocks(Protomux.from(socket), {
        authorize: (id) => store.authorize(id),
        mutateBlock: (f, n, d) => h.mutateBlock?.(f, n, d),
        mutateHashes: (f, d) => h.mutateHashes?.(f, d),
        delayMs: 0,
      })
    })
    await server.listen(keys)
    sources.push(entry)
  }
})

afterAll(async () => {
  await testnet.destroy()
  await rm(root, { recursive: true, force: true })
})

function dial(i: number): ImageSource & { socket: NoiseSocket } {
  const socket = testnet.createNode().connect(sources[i].keys.publicKey)
  socket.on('error', () => {})
  return { name: `s${i}`, mux: Protomux.from(socket), socket }
}

let n = 0
const freshStore = (opts = {}) => new ImageStore(join(root, `dest${++n}`), opts)
const sha = async (p: string) =>
  createHash('sha256')
    .update(await readFile(p))
    .digest('hex')

describe('image fetch over blocks@1', () => {
  it('fetches from one source, verified, then a second fetch moves 0 bytes', async () => {
    const store = freshStore()
    const seen: number[] = []
    const r = await fetchImage({
      store,
      digest,
      size: SIZE,
      sources: [dial(0)],
      onProgress: (d) => seen.push(d),
    })
    expect(r.bytes).toBe(dataBytes)
    expect(seen.length).toBeGreaterThan(1)
    expect(await store.has(digest)).toBe(true)
    expect(await sha(store.pathOf(digest))).toBe(await sha(join(root, 'src.img')))
    const again = await fetchImage({ store, digest, size: SIZE, sources: [dial(0)] })
    expect(again.bytes).toBe(0)
  })

  it('splits the blocks between two sources', async () => {
    const store = freshStore()
    const r = await fetchImage({ store, digest, size: SIZE, sources: [dial(0), dial(1)] })
    expect(r.bytes).toBe(dataBytes)
    expect(r.bySource.s0).toBeGreaterThan(0)
    expect(r.bySource.s1).toBeGreaterThan(0)
    expect(r.bySource.s0 + r.bySource.s1).toBe(dataBytes)
    expect(await sha(store.pathOf(digest))).toBe(await sha(join(root, 'src.img')))
  })

  it('refuses a corrupt block and keeps nothing', async () => {
    hooks[0].mutateBlock = (_f, _i, d) => {
      d[0] ^= 0xff
    }
    const store = freshStore()
    try {
      await expect(fetchImage({ store, digest, size: SIZE, sources: [dial(0)] })).rejects.toMatchObject({
        code: 'VMMP_CORRUPT',
      })
    } finally {
      delete hooks[0].mutateBlock
    }
    expect(await store.has(digest)).toBe(false)
    expect(await readdir(store.dir).catch(() => [])).toEqual([])
  })

  it('refuses a source whose block list does not hash to the digest', async () => {
    hooks[1].mutateHashes = (_f, d) => {
      d[d.length - 1] ^= 0xff
    }
    const store = freshStore()
    try {
      await expect(fetchImage({ store, digest, size: SIZE, sources: [dial(1)] })).rejects.toMatchObject({
        code: 'VMMP_DIGEST_MISMATCH',
      })
    } finally {
      delete hooks[1].mutateHashes
    }
    expect(await readdir(store.dir).catch(() => [])).toEqual([])
  })

  it('refuses a digest the source does not hold', async () => {
    const store = freshStore()
    const other = 'ab'.repeat(32)
    await expect(fetchImage({ store, digest: other, size: SIZE, sources: [dial(0)] })).rejects.toMatchObject({
      code: 'VMMP_UNAUTHORIZED',
    })
  })

  it('finishes from the other source when one vanishes mid-fetch', async () => {
    const store = freshStore()
    const a = dial(0)
    let killed = false
    hooks[0].mutateBlock = () => {
      if (killed) return
      killed = true
      for (const s of sources[0].sockets) s.destroy()
    }
    try {
      const r = await fetchImage({ store, digest, size: SIZE, sources: [a, dial(1)], stallMs: 3000 })
      expect(r.bytes).toBe(dataBytes)
      expect(killed).toBe(true)
    } finally {
      delete hooks[0].mutateBlock
    }
    expect(await sha(store.pathOf(digest))).toBe(await sha(join(root, 'src.img')))
  })

  it('fails cleanly when the only source vanishes', async () => {
    const store = freshStore()
    let killed = false
    hooks[1].mutateBlock = () => {
      if (killed) return
      killed = true
      for (const s of sources[1].sockets) s.destroy()
    }
    try {
      await expect(fetchImage({ store, digest, size: SIZE, sources: [dial(1)], stallMs: 3000 })).rejects.toMatchObject({
        code: expect.stringMatching(/^VMMP_(CLOSED|STALLED)$/),
      })
    } finally {
      delete hooks[1].mutateBlock
    }
    expect(await readdir(store.dir).catch(() => [])).toEqual([])
  })

  it('refuses an image larger than the free space', async () => {
    const store = freshStore({ freeBytes: () => 1024 * 1024 })
    await expect(fetchImage({ store, digest, size: SIZE, sources: [dial(0)] })).rejects.toMatchObject({
      code: 'VMMP_NO_SPACE',
    })
    expect(await readdir(store.dir).catch(() => [])).toEqual([])
  })
})
