// A blank machine boots its install media: a small bootable ISO is built here with grub-mkrescue
// (Debian's grub-pc-bin and xorriso) whose GRUB prints a marker on the serial port; the buyer
// attaches it to a blank machine on a real QEMU provider (TCG), starts the machine, and the marker
// appears on the machine's serial console log. Hub and provider run in one process on a testnet.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import createTestnet from 'hyperdht/testnet.js'
import { startNode, type RunningNode } from '../../src/cli/node.ts'
import { serveMedia } from '../../src/client/media-source.ts'
import type { Market } from '../../src/market/market.ts'
import { SHEET } from '../market/helpers.ts'
import { waitFor } from '../console/helpers.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

const MARKER = 'VIRTUOSO-ISO-BOOTED'
let testnet: Awaited<ReturnType<typeof createTestnet>>
let root: string
let hub: RunningNode
let provider: RunningNode
let m: Market
const alice = { username: 'alice', type: 'buyer' as const }

beforeAll(async () => {
  testnet = await createTestnet(3)
  root = await mkdtemp(join(tmpdir(), 'virtuoso-media-boot-'))
  await mkdir(join(root, 'iso', 'boot', 'grub'), { recursive: true })
  await writeFile(
    join(root, 'iso', 'boot', 'grub', 'grub.cfg'),
    ['serial --unit=0 --speed=115200', 'terminal_output serial console', `echo ${MARKER}`, 'sleep 600', ''].join('\n'),
  )
  execFileSync('grub-mkrescue', ['-o', join(root, 'install.iso'), join(root, 'iso')], { stdio: 'ignore' })
  hub = await startNode({
    scryptN: TEST_SCRYPT_N,
    data: join(root, 'hub'),
    bootstrap: testnet.bootstrap,
    hub: true,
    dht: testnet.createNode(),
  })
  m = hub.hub!.market
  provider = await startNode({
    scryptN: TEST_SCRYPT_N,
    data: join(root, 'p'),
    bootstrap: testnet.bootstrap,
    market: Buffer.from(hub.key, 'hex'),
    hv: 'qemu',
    accel: 'tcg',
    ssh: false,
    dht: testnet.createNode(),
  })
  await provider.provider!.connected
  await m.signup({ username: 'prov', type: 'provider', email: 'p@example.org', password: 'correct horse' })
  await m.signup({ username: 'alice', type: 'buyer', email: 'a@example.org', password: 'correct horse' })
  await m.credit('alice', 100_000_000)
}, 120_000)

afterAll(async () => {
  // The guest outlives its agent by design: stop it through the market first.
  for (const vm of m ? [...m.db.values('vm')] : [])
    if (vm.state === 'started') await m.stop(alice, vm.id).catch(() => {})
  await provider?.close()
  await hub?.close()
  await testnet.destroy()
  await rm(root, { recursive: true, force: true })
}, 120_000)

describe('install media on a blank machine', () => {
  it('boots the attached ISO', async () => {
    const pm = await m.pmAdd(
      { username: 'prov', type: 'provider' },
      { pairing: provider.pairingCode!, name: 'qemu1', ...SHEET },
    )
    const vm = await m.register(alice, { config: 'small' })
    expect(vm.os).toBeNull()
    await m.store(alice, vm.id, pm.id)
    const src = await serveMedia(testnet.createNode(), join(root, 'install.iso'), provider.provider!.nodeKey)
    try {
      const input = { vmId: vm.id, name: 'install.iso', digest: src.digest, size: src.size, source: src.key }
      expect((await m.attachMedia(alice, input)).media?.name).toBe('install.iso')
    } finally {
      await src.close()
    }
    await m.start(alice, vm.id)
    const log = join(root, 'p', 'machines', vm.id, 'serial.log')
    let text = ''
    await waitFor(
      () => {
        readFile(log, 'utf8').then(
          (t) => (text = t),
          () => {},
        )
        return text.includes(MARKER)
      },
      90_000,
      'the ISO to print its marker on the serial console',
    )
    await m.stop(alice, vm.id)
    expect((await m.detachMedia(alice, vm.id)).media).toBeNull()
  }, 240_000)
})
