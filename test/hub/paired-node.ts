// One node that is hub and provider (test driver) on a loopback testnet, with the provider account
// `prov` and its machine `pm1` paired: the set-up shared by the in-process console, dashboard and
// flood tests; with `hv: 'qemu'` its machines are real TCG guests (the Console view's screen picture).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import createTestnet from 'hyperdht/testnet.js'
import { startNode, type RunningNode } from '../../src/cli/node.ts'
import { SHEET } from '../market/helpers.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

export interface PairedNode {
  testnet: Awaited<ReturnType<typeof createTestnet>>
  node: RunningNode
  dir: string
  /** The paired provider machine's id. */
  pmId: string
  /** Stops the node and the testnet, and removes the data directory. */
  close: () => Promise<void>
}

export async function startPairedNode(prefix: string, opts: { hv?: 'test' | 'qemu' } = {}): Promise<PairedNode> {
  const testnet = await createTestnet(3)
  const dir = await mkdtemp(join(tmpdir(), prefix))
  const node = await startNode({
    scryptN: TEST_SCRYPT_N,
    data: dir,
    bootstrap: testnet.bootstrap,
    hub: true,
    provide: true,
    hv: opts.hv ?? 'test',
    accel: 'tcg',
    dht: testnet.createNode(),
  })
  await node.provider!.connected
  const m = node.hub!.market
  await m.signup({ username: 'prov', type: 'provider', email: 'p@example.org', password: 'correct horse' })
  const pm = await m.pmAdd(
    { username: 'prov', type: 'provider' },
    { pairing: node.pairingCode!, name: 'pm1', ...SHEET },
  )
  const close = async () => {
    await node.close()
    await testnet.destroy()
    await rm(dir, { recursive: true, force: true })
  }
  return { testnet, node, dir, pmId: pm.id, close }
}
