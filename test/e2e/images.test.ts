// The image catalog end to end: a hub and two provider nodes as real processes on 127.0.0.1, driven
// through the CLI. The operator adds an image; a buyer registers machines with it and stores them:
// the first store delivers it with progress, a second store on the same provider moves 0 bytes, a
// store on the other provider fetches from the hub and the first provider at once; a migrated
// machine keeps its disk.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cli, startMarket, tempDir } from './harness.ts'
import { makeImage } from '../vmmp/helpers.ts'
import { PROV_ALICE_BOB, setUpUsers } from './users.ts'

const SIZE = 48 * 1024 * 1024
let root: Awaited<ReturnType<typeof tempDir>>
let market: Awaited<ReturnType<typeof startMarket>>
const home = (who: string) => join(root.path, 'home-' + who)
const as = (who: string, args: string[], input?: string) =>
  cli(home(who), [...args, '--json'], { env: market.env, input })
const pms: string[] = []
let imagePath = ''

beforeAll(async () => {
  root = await tempDir()
  market = await startMarket(root.path, { providers: 2, hv: 'test' })
  imagePath = join(root.path, 'tiny.img')
  await makeImage(imagePath, SIZE, 0.6)
  const users = await setUpUsers(as, {
    users: PROV_ALICE_BOB,
    hubData: join(root.path, 'hub'),
    credit: ['alice', '100'],
    pairings: market.providers.map((p) => p.pairing),
    pmName: (i) => `pm${i}`,
    prices: [],
  })
  pms.push(...users.pms)
}, 300_000)

afterAll(async () => {
  await market?.stop()
  await root?.remove()
})

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')
async function diskHead(provider: number, vmId: string): Promise<string> {
  const fh = await open(join(root.path, `provider${provider}`, 'machines', vmId, 'disk-f001.vmdk'), 'r')
  try {
    const buf = Buffer.alloc(SIZE)
    await fh.read(buf, 0, SIZE, 0)
    return sha(buf)
  } finally {
    await fh.close()
  }
}

describe('images through the CLI', () => {
  let digest = ''
  const vms: string[] = []

  it('the operator adds an image; everyone lists it', async () => {
    const add = await cli(home('op'), [
      'admin',
      'image',
      'add',
      'tiny',
      imagePath,
      '--os',
      'tinyos',
      '--data',
      join(root.path, 'hub'),
      '--json',
    ])
    expect(add.exitCode).toBe(0)
    digest = add.json.digest
    expect(digest).toMatch(/^[0-9a-f]{64}$/)
    const list = await cli(home('anyone'), ['images'], { env: market.env })
    expect(list.stdout).toMatch(/tiny\s+tinyos\s+48 MiB\s+[0-9a-f]{16}\s+hub\s+hub/)
  })

  it('register refuses an unknown image or OS; --image names one', async () => {
    expect((await as('alice', ['register', '--config', 'small', '--image', 'nope'])).json.error.code).toBe(
      'MARKET_NOT_FOUND',
    )
    expect((await as('alice', ['register', '--config', 'small', '--os', 'plan9'])).json.error.code).toBe(
      'MARKET_BAD_INPUT',
    )
    for (let i = 0; i < 3; i++) {
      const r = await as('alice', ['register', '--config', 'small', '--image', 'tiny', '--name', `img${i}`])
      expect(r.json).toMatchObject({ state: 'registered', os: 'tinyos', image: 'tiny', imageDigest: digest })
      vms.push(r.json.id)
    }
  })

  it('store delivers the image with progress; the disk starts as the image', async () => {
    const r = await cli(home('alice'), ['store', vms[0], '--on', pms[0]], { env: market.env })
    expect(r.exitCode).toBe(0)
    expect(r.stdout).toMatch(/delivering tiny to \S+:\s+\d+%/)
    expect(r.stdout).toMatch(/state stored/)
    const list = await as('alice', ['machines'])
    const vm = list.json.vms.find((v: any) => v.id === vms[0])
    expect(vm.delivered.bytes).toBeGreaterThan(0)
    expect(await diskHead(0, vms[0])).toBe(sha(await readFile(imagePath)))
  })

  it('a second store of the image on that provider moves 0 bytes', async () => {
    const r = await as('alice', ['store', vms[1], '--on', pms[0]])
    expect(r.exitCode).toBe(0)
    expect(r.json.delivered).toMatchObject({ image: 'tiny', bytes: 0 })
    expect(await diskHead(0, vms[1])).toBe(sha(await readFile(imagePath)))
  })

  it('a store elsewhere fetches from the hub and the first provider at once', async () => {
    const r = await as('alice', ['store', vms[2], '--on', pms[1]])
    expect(r.exitCode).toBe(0)
    expect(Object.keys(r.json.delivered.bySource)).toHaveLength(2)
    const list = await cli(home('anyone'), ['images'], { env: market.env })
    expect(list.stdout).toMatch(/hub, pm0, pm1/)
  })

  it('media attach sends an ISO from the CLI to the provider; another buyer is refused; detach', async () => {
    const iso = join(root.path, 'install.iso')
    await makeImage(iso, 4 * 1024 * 1024, 0.8, 5)
    expect((await as('bob', ['media', 'attach', vms[1], iso])).json.error.code).toBe('MARKET_NOT_FOUND')
    const r = await as('alice', ['media', 'attach', vms[1], iso])
    expect(r.exitCode).toBe(0)
    expect(r.json.media).toMatchObject({ name: 'install.iso', size: 4 * 1024 * 1024 })
    const held = join(root.path, 'provider0', 'media', r.json.media.digest, 'image.raw')
    expect(sha(await readFile(held))).toBe(sha(await readFile(iso)))
    const d = await as('alice', ['media', 'detach', vms[1]])
    expect(d.exitCode).toBe(0)
    expect(d.json.media).toBeNull()
    await expect(readFile(held)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('a migrated machine keeps its disk', async () => {
    const before = await diskHead(0, vms[0])
    const r = await as('alice', ['migrate', vms[0], '--to', pms[1]])
    expect(r.exitCode).toBe(0)
    expect(await diskHead(1, vms[0])).toBe(before)
  })
})
