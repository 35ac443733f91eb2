// Test helper: the network side of a provider on a loopback testnet: a switch, vnet@1 peers, and
// the provider's HyperDHT server handing every connection to the peers (as the console server does).
import DHT from 'hyperdht'
import Protomux from 'protomux'
import { once } from 'node:events'
import { Switch } from '../../src/vnet/switch.ts'
import { VnetPeers } from '../../src/vnet/peers.ts'
import { signMembership } from '../../src/vnet/membership.ts'

export interface TestProvider {
  key: string
  keys: ReturnType<typeof DHT.keyPair>
  sw: Switch
  peers: VnetPeers
  close(): Promise<void>
}

export async function testProvider(node: DHT, hubKey: Buffer, clock?: () => number): Promise<TestProvider> {
  const keys = DHT.keyPair()
  const sw = new Switch()
  const peers = new VnetPeers({ dht: node, keyPair: keys, hubKey, sw, clock })
  const server = node.createServer({ firewall: () => false }, (socket) => {
    socket.on('error', () => {})
    peers.onPeer(Protomux.from(socket), socket)
  })
  await server.listen(keys)
  return {
    key: keys.publicKey.toString('hex'),
    keys,
    sw,
    peers,
    async close() {
      peers.close()
      await server.close()
    },
  }
}

/** Resolves once the switch has port `id`. */
export async function portUp(sw: Switch, id: string): Promise<void> {
  while (!sw.has(id)) await once(sw, 'port')
}

export const member = (hub: ReturnType<typeof DHT.keyPair>, net: string, p: TestProvider) =>
  signMembership(hub.secretKey, { net, nodeKey: p.key })
