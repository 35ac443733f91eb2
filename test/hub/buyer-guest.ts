// A paired node (paired-node.ts) with a buyer on it: `alice`, credited, logged in over market@1 on a
// DHT node of her own, as the dashboard is, with one machine stored on the paired provider machine and
// started. The set-up of the TUI's live console tests (the serial console and the screen picture).
import { MarketClient } from '../../src/client/market-client.ts'
import { startPairedNode, type PairedNode } from './paired-node.ts'

export const BUYER = { username: 'alice', type: 'buyer' as const }
const PASSWORD = 'correct horse'

export interface BuyerGuest {
  paired: PairedNode
  client: MarketClient
  vmId: string
  /** Stops the machine (QEMU outlives its agent by design), then the client and the node. */
  close: () => Promise<void>
}

/** `machine` is what `register` takes (a configuration name or the sizes and OS). */
export async function startBuyerGuest(
  prefix: string,
  opts: { hv?: 'test' | 'qemu'; machine: Record<string, unknown> },
): Promise<BuyerGuest> {
  const paired = await startPairedNode(prefix, { hv: opts.hv })
  let client: MarketClient | null = null
  let vmId = ''
  const close = async () => {
    if (vmId) await client?.call('stop', { vmId }).catch(() => {})
    await client?.close()
    await paired.close()
  }
  try {
    const m = paired.node.hub!.market
    await m.signup({ ...BUYER, email: 'alice@example.org', password: PASSWORD })
    await m.credit(BUYER.username, 10_000_000)
    client = await MarketClient.connect({
      marketKey: Buffer.from(paired.node.key, 'hex'),
      bootstrap: paired.testnet.bootstrap,
      dht: paired.testnet.createNode(),
    })
    client.token = (
      await client.call<{ token: string }>('login', { username: BUYER.username, password: PASSWORD })
    ).token
    vmId = (await client.call<{ id: string }>('register', opts.machine)).id
    await client.call('store', { vmId, pmId: paired.pmId })
    await client.call('start', { vmId })
    return { paired, client, vmId, close }
  } catch (err) {
    await close()
    throw err
  }
}
