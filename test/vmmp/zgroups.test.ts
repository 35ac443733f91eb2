// Images travel as deflated groups (OP_ZGROUP) between real HyperDHT peers on a loopback testnet:
// a published image is served from the `.z` made at import and crosses the link compressed; the
// fetching store keeps the groups as they came and serves them on to a third node; a `.z` damaged
// on the serving node is refused by the receiver's hash check (nothing kept); without a valid
// index (missing, or its image touched since) the groups are deflated live from the image; a source
// from before OP_ZGROUP (it answers 'unknown op') sends plain blocks, alone or beside a newer one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import createTestnet from 'hyperdht/testnet.js'
import DHT from 'hyperdht'
import Protomux from 'protomux'
import { createHash } from 'node:crypto'
import { open, readFile, readdir, rm, mkdtemp, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { OP_BLOCKS, OP_HASHES, OP_OPEN, OP_SPARSE_HASHES, serveBlocks } from '../../src/vmmp/blocks.ts'
import { IMAGE_FILE, ImageStore } from '../../src/vmmp/image-store.ts'
import { fetchImage, type ImageSource } from '../../src/vmmp/image-fetch.ts'
import { loadZIndex, zDataName } from '../../src/vmmp/zgroups.ts'
import { BLOCK_SIZE, manifestStats } from '../../src/vmmp/manifest.ts'

const SIZE = 8 * 1024 * 1024 + 12_345 // a short last block too
let testnet: Awaited<ReturnType<typeof createTestnet>>
let root: string
let digest = ''
let dataBytes = 0

/** Text-like, compressible blocks with holes between them, as a file system image has. */
async function makeTextImage(path: string): Promise<void> {
  const buf = Buffer.alloc(SIZE)
  const words = ['kernel', 'module', 'systemd', 'libc.so.6', 'openssh', '\n', ' ', 'bookworm']
  let x = 7
  for (let b = 0; b * BLOCK_SIZE < SIZE; b++) {
    if (b % 5 === 3) continue // a hole
    for (let off = b * BLOCK_SIZE; off < Math.min(SIZE, (b + 1) * BLOCK_SIZE);) {
      x = (x * 1103515245 + 12345) >>> 0
      off += buf.write(words[x % words.length], off)
    }
  }
  await writeFile(path, buf)
}

/** The ops a node from before OP_ZGROUP answers. */
const OLD_OPS = [OP_OPEN, OP_HASHES, OP_BLOCKS, OP_SPARSE_HASHES]

function serve(store: ImageStore, ops?: number[]): Promise<Buffer> {
  const keys = DHT.keyPair()
  const server = testnet.createNode().createServer((socket) => {
    socket.on('error', () => {})
    serveBlocks(Protomux.from(socket), { authorize: (id) => store.authorize(id), ops })
  })
  return server.listen(keys).then(() => keys.publicKey)
}

function dial(key: Buffer, name: string): ImageSource {
  const socket = testnet.createNode().connect(key)
  socket.on('error', () => {})
  return { name, mux: Protomux.from(socket) }
}

const sha = async (p: string) =>
  createHash('sha256')
    .update(await readFile(p))
    .digest('hex')

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'zgroups-'))
  await makeTextImage(join(root, 'src.img'))
  testnet = await createTestnet(3)
})

afterAll(async () => {
  await testnet.destroy()
  await rm(root, { recursive: true, force: true })
})

describe('deflated image groups', () => {
  let a: ImageStore
  let b: ImageStore

  it('a published image crosses the link deflated, and the receiver keeps the groups as they came', async () => {
    a = new ImageStore(join(root, 'a'))
    digest = (await a.import(join(root, 'src.img'))).digest
    const m = (await a.manifest(digest))!
    dataBytes = manifestStats({ version: 0, files: [m] }).dataBytes
    expect(await loadZIndex(a.dirOf(digest), m)).not.toBeNull()
    b = new ImageStore(join(root, 'b'))
    const r = await fetchImage({ store: b, digest, size: SIZE, sources: [dial(await serve(a), 'a')] })
    expect(r.bytes).toBe(dataBytes)
    expect(r.bytesOnWire).toBeLessThan(dataBytes / 2)
    expect(await sha(b.pathOf(digest))).toBe(await sha(join(root, 'src.img')))
    expect(await loadZIndex(b.dirOf(digest), (await b.manifest(digest))!)).not.toBeNull()
  })

  it('the receiver serves what it kept to a third node', async () => {
    const c = new ImageStore(join(root, 'c'))
    const r = await fetchImage({ store: c, digest, size: SIZE, sources: [dial(await serve(b), 'b')] })
    expect(r.bytesOnWire).toBeLessThan(dataBytes / 2)
    expect(await sha(c.pathOf(digest))).toBe(await sha(join(root, 'src.img')))
  })

  it('a source from before OP_ZGROUP sends plain blocks; the copy is the same and is kept deflated', async () => {
    const old = new ImageStore(join(root, 'old'))
    const r = await fetchImage({ store: old, digest, size: SIZE, sources: [dial(await serve(a, OLD_OPS), 'old')] })
    expect(r.bytes).toBe(dataBytes)
    // Plain blocks: at least the data itself crossed (no deflate on the way).
    expect(r.bytesOnWire).toBeGreaterThanOrEqual(dataBytes)
    expect(await sha(old.pathOf(digest))).toBe(await sha(join(root, 'src.img')))
    expect(await loadZIndex(old.dirOf(digest), (await old.manifest(digest))!)).not.toBeNull()
    // An old and a new source together: each sends what it can, the image is whole.
    const mixed = new ImageStore(join(root, 'mixed'))
    const m = await fetchImage({
      store: mixed,
      digest,
      size: SIZE,
      inflight: 2,
      sources: [dial(await serve(a, OLD_OPS), 'old'), dial(await serve(old), 'new')],
    })
    expect(Object.keys(m.bySource).sort()).toEqual(['new', 'old'])
    expect(await sha(mixed.pathOf(digest))).toBe(await sha(join(root, 'src.img')))
  })

  it('a damaged .z on the source is refused by the hash check and nothing is kept', async () => {
    const z = join(b.dirOf(digest), zDataName(IMAGE_FILE))
    const fh = await open(z, 'r+')
    const one = Buffer.alloc(1)
    await fh.read(one, 0, 1, 100)
    one[0] ^= 0x5a
    await fh.write(one, 0, 1, 100)
    await fh.close()
    const d = new ImageStore(join(root, 'd'))
    await expect(
      fetchImage({ store: d, digest, size: SIZE, sources: [dial(await serve(b), 'b')] }),
    ).rejects.toMatchObject({ code: 'VMMP_CORRUPT' })
    expect(await d.has(digest)).toBe(false)
    expect(await readdir(d.dir).catch(() => [])).toEqual([])
  })

  it('without an index the groups are deflated live from the image (the damaged .z is not read)', async () => {
    await rm(join(b.dirOf(digest), `${IMAGE_FILE}.zi`))
    const e = new ImageStore(join(root, 'e'))
    const r = await fetchImage({ store: e, digest, size: SIZE, sources: [dial(await serve(b), 'b')] })
    expect(r.bytesOnWire).toBeLessThan(dataBytes / 2)
    expect(await sha(e.pathOf(digest))).toBe(await sha(join(root, 'src.img')))
  })

  it('an index whose image changed since it was written is not trusted', async () => {
    const m = (await a.manifest(digest))!
    await utimes(a.pathOf(digest), new Date(), new Date(Date.now() + 5000))
    expect(await loadZIndex(a.dirOf(digest), m)).toBeNull()
  })
})
