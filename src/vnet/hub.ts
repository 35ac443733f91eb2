// The hub's side of the buyers' networks: it signs a provider's membership of a network only while
// that provider hosts a machine of it, tells it the other providers of the network, and tells those
// of the newcomer (so the pair connects at once, e.g. right after a migration commits).
import type { Market } from '../market/market.ts'
import { VnetError, VNET_BAD_INPUT, VNET_NOT_MEMBER } from './errors.ts'
import { MEMBERSHIP_TTL_MS, signMembership } from './membership.ts'

export interface VnetHubOptions {
  market: Market
  /** The hub's key pair: memberships are signed with its secret key (the market key). */
  secretKey: Buffer
  /** Sends a command to a connected provider node. */
  command(nodeKey: string, method: string, params: unknown): Promise<unknown>
}

export class VnetHub {
  constructor(private opts: VnetHubOptions) {}

  /** Node keys of the providers holding a machine of `net`. */
  providersOf(net: string): string[] {
    return this.opts.market.networkNodes(net)
  }

  /** node.vnet.join from provider `nodeKey`. */
  join(nodeKey: string, params: unknown): { membership: string; peers: string[]; expires: number } {
    const net = (params as { net?: unknown } | null)?.net
    if (typeof net !== 'string' || net.length > 128)
      throw new VnetError(VNET_BAD_INPUT, 'node.vnet.join needs { net } (a network id)')
    const providers = this.providersOf(net)
    if (!providers.includes(nodeKey))
      throw new VnetError(VNET_NOT_MEMBER, 'this provider hosts no machine of that network')
    const now = this.opts.market.now()
    const expires = now + MEMBERSHIP_TTL_MS
    const membership = signMembership(this.opts.secretKey, { net, nodeKey, expires }, now)
    const peers = providers.filter((k) => k !== nodeKey)
    for (const k of peers) void this.opts.command(k, 'vnet.peers', { net, peers: providers }).catch(() => {})
    return { membership, peers, expires }
  }
}
