// Image delivery through running nodes in one process on a loopback testnet: a hub (the operator adds
// an image over the admin socket) and three provider nodes (test driver, real disk files). Faults
// are injected through the nodes' constructor options: the hub serving corrupt blocks or a block
// list that does not hash to the digest, and a provider whose disk is full. Every failed store
// leaves the machine registered, uncharged, and nothing on the provider.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { mkdtemp, open, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import createTestnet from 'hyperdht/testnet.js'
import { startNode, type RunningNode } from '../../src/cli/node.ts'
import { callAdmin } from '../../src/hub/admin-socket.ts'
import type { Market } from '../../src/market/market.ts'
import type { Change, PmRow, VmRow } from '../../src/market/types.ts'
import { SHEET } from '../market/helpers.ts'
import { waitFor } from '../console/helpers.ts'
import { makeImage } from '../vmmp/helpers.ts'
import { manifestStats } from '../../src/vmmp/manifest.ts'
import { ImageStore } from '../../src/vmmp/image-store.ts'
import { serveMedia } from '../../src/client/media-source.ts'
import { readdir } from 'node:fs/promises'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

const SIZE = 32 * 1024 * 1024
let testnet: Awaited<ReturnType<typeof createTestnet>>
let root: string
let hub: RunningNode
let m: Market
const providers: RunningNode[] = []
const pms: PmRow[] = []
const fault = { corrupt: false, lie: false }
let digest: string
let dataBytes: number
const alice = { username: 'alice', type: 'buyer' as const }
const prov = { username: 'prov', type: 'provider' as const }

beforeAll(async () => {
  testnet = await createTestnet(3)
  root = await mkdtemp(join(tmpdir(), 'virtuoso-images-'))
  await makeImage(join(root, 'tiny.img'), SIZE, 0.5)
  hub = await startNode({
    scryptN: TEST_SCRYPT_N,
    data: join(root, 'hub'),
    bootstrap: testnet.bootstrap,
    hub: true,
    dht: testnet.createNode(),
    images: {
      hubFaults: {
        mutateBlock: (_f, _i, d) => {
          if (fault.corrupt) d[0] ^= 0xff
        },
        mutateHashes: (_f, d) => {
          if (fault.lie) d[d.length - 1] ^= 0xff
        },
      },
    },
  })
  m = hub.hub!.market
  await m.signup({ username: 'prov', type: 'provider', email: 'p@example.org', password: 'correct horse' })
  await m.signup({ username: 'alice', type: 'buyer', email: 'a@example.org', password: 'correct horse' })
  await m.signup({ username: 'bob', type: 'buyer', email: 'b@example.org', password: 'correct horse' })
  await m.credit('alice', 100_000_000)
  await makeImage(join(root, 'b.img'), SIZE, 0.5, 2)
  for (let i = 0; i < 4; i++) {
    const node = await startNode({
      scryptN: TEST_SCRYPT_N,
      data: join(root, `p${i}`),
      bootstrap: testnet.bootstrap,
      market: Buffer.from(hub.key, 'hex'),
      hv: 'test',
      dht: testnet.createNode(),
      // The third provider's disk is "full": the image cannot fit. The fourth caches one image at most.
      images: i === 2 ? { freeBytes: () => 1024 * 1024 } : i === 3 ? { cacheBytes: SIZE * 1.2 } : undefined,
    })
    await node.provider!.connected
    providers.push(node)
    pms.push(await m.pmAdd(prov, { pairing: node.pairingCode!, name: `pm${i}`, ...SHEET }))
  }
  const added = await callAdmin(join(root, 'hub', 'hub'), 'image.add', {
    name: 'tiny',
    os: 'tinyos',
    file: join(root, 'tiny.img'),
  })
  digest = added.digest
  const store = new ImageStore(join(root, 'hub', 'images'))
  dataBytes = manifestStats({ version: 0, files: [(await store.manifest(digest))!] }).dataBytes
})

afterAll(async () => {
  for (const p of providers) await p.close()
  await hub?.close()
  await testnet.destroy()
  await rm(root, { recursive: true, force: true })
})

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')
async function diskHead(node: number, vmId: string): Promise<Buffer> {
  const fh = await open(join(root, `p${node}`, 'machines', vmId, 'disk-f001.vmdk'), 'r')
  try {
    const buf = Buffer.alloc(SIZE)
    await fh.read(buf, 0, SIZE, 0)
    return buf
  } finally {
    await fh.close()
  }
}

async function refusedCleanly(vmId: string, pm: number, code: string): Promise<void> {
  const before = m.whoami(alice).balance
  await expect(m.store(alice, vmId, pms[pm].id)).rejects.toMatchObject({ code })
  const vm = m.db.get('vm', vmId)!
  expect(vm.state).toBe('registered')
  expect(vm.delivery ?? null).toBeNull()
  expect(m.whoami(alice).balance).toBe(before)
  expect(await providers[pm].provider!['opts'].hv.list()).toEqual([])
  expect(m.db.get('images', 'tiny')!.servers).toEqual(['hub'])
  expect(await leftovers(pm)).toEqual([])
}

/** Half-fetched images and staged disks (`.partial-*`, `.disk-*`) left in a provider's image store. */
const leftovers = async (pm: number) =>
  (await readdir(join(root, `p${pm}`, 'images')).catch(() => [] as string[])).filter((n) => n.startsWith('.'))

describe('image catalog and delivery', () => {
  it('lists the image and refuses unknown images and OSes at register', async () => {
    const [img] = m.images()
    expect(img).toMatchObject({ name: 'tiny', os: 'tinyos', size: SIZE, digest, servedBy: ['hub'] })
    await expect(m.register(alice, { config: 'small', image: 'nope' })).rejects.toMatchObject({
      code: 'MARKET_NOT_FOUND',
    })
    await expect(m.register(alice, { config: 'small', os: 'plan9' })).rejects.toMatchObject({
      code: 'MARKET_BAD_INPUT',
    })
    const byOs = await m.register(alice, { config: 'small', os: 'tinyos' })
    expect(byOs).toMatchObject({ os: 'tinyos', image: 'tiny', imageDigest: digest })
    await m.delete(alice, byOs.id)
  })

  it('refuses a corrupt block: no charge, no machine, no cached image', async () => {
    const vm = await m.register(alice, { config: 'small', image: 'tiny' })
    fault.corrupt = true
    try {
      await refusedCleanly(vm.id, 0, 'VMMP_CORRUPT')
    } finally {
      fault.corrupt = false
    }
    await m.delete(alice, vm.id)
  })

  it('refuses a source whose block list does not match the digest', async () => {
    const vm = await m.register(alice, { config: 'small', image: 'tiny' })
    fault.lie = true
    try {
      await refusedCleanly(vm.id, 0, 'VMMP_DIGEST_MISMATCH')
    } finally {
      fault.lie = false
    }
    await m.delete(alice, vm.id)
  })

  it('refuses a store on a provider whose disk cannot hold the image', async () => {
    const vm = await m.register(alice, { config: 'small', image: 'tiny' })
    await refusedCleanly(vm.id, 2, 'VMMP_NO_SPACE')
    await m.delete(alice, vm.id)
  })

  it('delivers the image with progress; the disk starts as the image; a second store moves 0 bytes', async () => {
    const vm = await m.register(alice, { config: 'small', image: 'tiny' })
    const seen: VmRow[] = []
    const onChange = (c: Change) => {
      if (c.table === 'vm' && c.key === vm.id && c.value) seen.push(c.value as VmRow)
    }
    m.on('change', onChange)
    const stored = await m.store(alice, vm.id, pms[0].id)
    m.off('change', onChange)
    expect(stored.state).toBe('stored')
    expect(stored.delivered).toMatchObject({ image: 'tiny', bytes: dataBytes, bySource: { hub: dataBytes } })
    expect(seen[0]).toMatchObject({ state: 'migrating', delivery: { bytesDone: 0, bytesTotal: SIZE } })
    const partway = seen.filter((v) => v.delivery && v.delivery.bytesDone > 0)
    expect(partway.length).toBeGreaterThan(0)
    // Written as the image arrived (staged, then moved into the machine): nothing staged is left.
    expect(sha(await diskHead(0, vm.id))).toBe(sha(await readFile(join(root, 'tiny.img'))))
    expect(await leftovers(0)).toEqual([])
    expect(m.db.get('images', 'tiny')!.servers).toEqual(['hub', providers[0].provider!.nodeKey])

    const second = await m.register(alice, { config: 'small', image: 'tiny' })
    const again = await m.store(alice, second.id, pms[0].id)
    expect(again.delivered).toMatchObject({ image: 'tiny', bytes: 0 })
    expect(sha(await diskHead(0, second.id))).toBe(sha(await readFile(join(root, 'tiny.img'))))
  })

  it('fetches from the hub and a provider at once', async () => {
    const vm = await m.register(alice, { config: 'small', image: 'tiny' })
    const stored = await m.store(alice, vm.id, pms[1].id)
    const by = stored.delivered!.bySource
    expect(Object.keys(by).sort()).toEqual(['hub', providers[0].provider!.nodeKey.slice(0, 8)].sort())
    expect(Object.values(by).every((b) => b > 0)).toBe(true)
    expect(stored.delivered!.bytes).toBe(dataBytes)
    expect(sha(await diskHead(1, vm.id))).toBe(sha(await readFile(join(root, 'tiny.img'))))
  })

  it('the buyer writes to its disk, never to the cached image', async () => {
    const [vm] = [...m.db.values('vm')].filter((v) => v.pmId === pms[0].id)
    const fh = await open(join(root, 'p0', 'machines', vm.id, 'disk-f001.vmdk'), 'r+')
    await fh.write(Buffer.alloc(65536, 7), 0, 65536, 0)
    await fh.close()
    const cached = new ImageStore(join(root, 'p0', 'images'))
    expect(await cached.has(digest)).toBe(true)
    expect(sha(await readFile(cached.pathOf(digest)))).toBe(sha(await readFile(join(root, 'tiny.img'))))
  })

  it('a provider publishes a file on its node; a store elsewhere fetches it from that node', async () => {
    await makeImage(join(root, 'pub.img'), 8 * 1024 * 1024, 0.5, 7)
    await expect(
      m.publishImage(alice, { name: 'pub', os: 'pubos', pmId: pms[1].id, file: join(root, 'pub.img') }),
    ).rejects.toMatchObject({ code: 'MARKET_FORBIDDEN' })
    const row = await m.publishImage(prov, { name: 'pub', os: 'pubos', pmId: pms[1].id, file: join(root, 'pub.img') })
    expect(row).toMatchObject({ publisher: 'prov', servers: [providers[1].provider!.nodeKey] })
    const vm = await m.register(alice, { config: 'small', image: 'pub' })
    const stored = await m.store(alice, vm.id, pms[0].id)
    expect(Object.keys(stored.delivered!.bySource)).toEqual([providers[1].provider!.nodeKey.slice(0, 8)])
    const fh = await open(join(root, 'p0', 'machines', vm.id, 'disk-f001.vmdk'), 'r')
    const head = Buffer.alloc(8 * 1024 * 1024)
    await fh.read(head, 0, head.length, 0)
    await fh.close()
    expect(sha(head)).toBe(sha(await readFile(join(root, 'pub.img'))))
  })

  it('after a migration the machine has its disk on the destination', async () => {
    const [vm] = [...m.db.values('vm')].filter((v) => v.pmId === pms[0].id)
    const before = sha(await diskHead(0, vm.id))
    const mig = await m.migrate(alice, { vmId: vm.id, to: pms[1].id })
    await waitFor(() => ['committed', 'failed'].includes(m.getMigration(mig.id).phase), 60_000, 'migration')
    expect(m.getMigration(mig.id).phase).toBe('committed')
    expect(sha(await diskHead(1, vm.id))).toBe(before)
  })

  it('a provider over its cache cap evicts the least recently used image; the hub stops naming it', async () => {
    const p3 = providers[3].provider!.nodeKey
    await callAdmin(join(root, 'hub', 'hub'), 'image.add', { name: 'tiny2', os: 'tinyos2', file: join(root, 'b.img') })
    const a = await m.register(alice, { config: 'small', image: 'tiny' })
    await m.store(alice, a.id, pms[3].id)
    expect(m.db.get('images', 'tiny')!.servers).toContain(p3)
    const b = await m.register(alice, { config: 'small', image: 'tiny2' })
    await m.store(alice, b.id, pms[3].id)
    // Both do not fit under its cap: tiny (used before tiny2, and its machine's disk is made) goes.
    await waitFor(() => !m.db.get('images', 'tiny')!.servers.includes(p3), 10_000, 'the hub to drop p3 for tiny')
    expect(m.db.get('images', 'tiny2')!.servers).toContain(p3)
    expect(sha(await diskHead(3, a.id))).toBe(sha(await readFile(join(root, 'tiny.img'))))
    const c = await m.register(alice, { config: 'small', image: 'tiny' })
    expect((await m.store(alice, c.id, pms[3].id)).delivered!.bytes).toBe(dataBytes)
  })
})

describe('install media', () => {
  const bob = { username: 'bob', type: 'buyer' as const }
  const mediaDir = (i: number) => join(root, `p${i}`, 'media')
  const held = async (i: number) =>
    (await readdir(mediaDir(i)).catch(() => [] as string[])).filter((n) => !n.startsWith('.'))
  const hvOf = (i: number) => providers[i].provider!['opts'].hv

  it('attaches an ISO from the buyer, verified; another buyer is refused; detach drops it', async () => {
    await makeImage(join(root, 'install.iso'), 6 * 1024 * 1024, 0.7, 11)
    const vm = await m.register(alice, { config: 'small' })
    await m.store(alice, vm.id, pms[0].id)
    const src = await serveMedia(testnet.createNode(), join(root, 'install.iso'), providers[0].provider!.nodeKey)
    const input = { vmId: vm.id, name: 'install.iso', digest: src.digest, size: src.size, source: src.key }
    try {
      await expect(m.attachMedia(bob, input)).rejects.toMatchObject({ code: 'MARKET_NOT_FOUND' })
      const after = await m.attachMedia(alice, input)
      expect(after.media).toEqual({ name: 'install.iso', digest: src.digest, size: src.size })
    } finally {
      await src.close()
    }
    const path = (await hvOf(0).get(vm.id)).config.media
    expect(path).toBe(join(mediaDir(0), src.digest, 'image.raw'))
    expect(sha(await readFile(path!))).toBe(sha(await readFile(join(root, 'install.iso'))))
    await expect(m.detachMedia(bob, vm.id)).rejects.toMatchObject({ code: 'MARKET_NOT_FOUND' })
    const detached = await m.detachMedia(alice, vm.id)
    expect(detached.media).toBeNull()
    expect((await hvOf(0).get(vm.id)).config.media).toBeUndefined()
    expect(await held(0)).toEqual([])
  })

  it('media travels with a migration: the destination fetches the ISO from the origin, verified', async () => {
    const vm = await m.register(alice, { config: 'small' })
    await m.store(alice, vm.id, pms[0].id)
    const src = await serveMedia(testnet.createNode(), join(root, 'install.iso'), providers[0].provider!.nodeKey)
    try {
      await m.attachMedia(alice, { vmId: vm.id, name: 'i.iso', digest: src.digest, size: src.size, source: src.key })
    } finally {
      await src.close() // the buyer's client is gone: only the origin can serve the ISO now
    }
    const mig = await m.migrate(alice, { vmId: vm.id, to: pms[1].id })
    await waitFor(() => ['committed', 'failed'].includes(m.getMigration(mig.id).phase), 60_000, 'migration')
    expect(m.getMigration(mig.id)).toMatchObject({ phase: 'committed', error: null })
    expect(m.db.get('vm', vm.id)!.media).toEqual({ name: 'i.iso', digest: src.digest, size: src.size })
    const path = (await hvOf(1).get(vm.id)).config.media
    expect(path).toBe(join(mediaDir(1), src.digest, 'image.raw'))
    expect(sha(await readFile(path!))).toBe(sha(await readFile(join(root, 'install.iso'))))
    // The origin keeps media only while a machine there has it attached.
    // (its release follows the commit on the origin's own time)
    for (let i = 0; i < 200 && (await held(0)).length > 0; i++) await new Promise((r) => setTimeout(r, 50))
    expect(await held(0)).toEqual([])
    expect((await m.detachMedia(alice, vm.id)).media).toBeNull()
    expect(await held(1)).toEqual([])
  })

  it('a deleted machine takes its ISO with it', async () => {
    const vm = await m.register(alice, { config: 'small' })
    await m.store(alice, vm.id, pms[0].id)
    const src = await serveMedia(testnet.createNode(), join(root, 'install.iso'), providers[0].provider!.nodeKey)
    try {
      await m.attachMedia(alice, { vmId: vm.id, name: 'i.iso', digest: src.digest, size: src.size, source: src.key })
    } finally {
      await src.close()
    }
    expect(await held(0)).toEqual([src.digest])
    await m.delete(alice, vm.id)
    expect(await held(0)).toEqual([])
  })

  it('refuses an ISO larger than the provider has free, before a byte moves', async () => {
    const vm = await m.register(alice, { config: 'small' })
    await m.store(alice, vm.id, pms[2].id)
    const src = await serveMedia(testnet.createNode(), join(root, 'install.iso'), providers[2].provider!.nodeKey)
    try {
      await expect(
        m.attachMedia(alice, { vmId: vm.id, name: 'big.iso', digest: src.digest, size: src.size, source: src.key }),
      ).rejects.toMatchObject({ code: 'VMMP_NO_SPACE' })
    } finally {
      await src.close()
    }
    expect(m.db.get('vm', vm.id)!.media ?? null).toBeNull()
    // Nothing at all, not even a partial copy: it was refused before the fetch began.
    expect(await readdir(mediaDir(2)).catch(() => [])).toEqual([])
  })
})
