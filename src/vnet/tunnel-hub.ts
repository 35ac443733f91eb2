// The hub's side of tunnels (`virtuoso pipe/ssh/forward`): the owner of a running machine gets a
// ticket for the provider that runs it, bound to the Noise key of the connection that asked (the
// hub knows it: the key proved itself in the handshake), so only that key can use it.
//
//   'tunnel.ticket' {vmId} -> {ticket, vmId, nodeKey, expires, hostKeys}
import type { KeyPair } from 'hyperdht'
import type { Market } from '../market/market.ts'
import type { Identity } from '../market/types.ts'
import { signTicket, TICKET_TTL_MS } from '../console/ticket.ts'

export interface TunnelHub {
  market: Market
  keyPair: KeyPair
}

export interface TunnelTicketAnswer {
  ticket: string
  vmId: string
  nodeKey: string
  expires: number
  /** The guest's SSH host keys ('ssh-ed25519 AAAA…'), for a known_hosts entry; empty when unknown. */
  hostKeys: string[]
}

export function tunnelTicket(
  hub: TunnelHub,
  who: Identity | null,
  params: unknown,
  clientKey: string,
): TunnelTicketAnswer {
  const p = (params ?? {}) as { vmId?: unknown }
  const { vm, pm } = hub.market.placement(who, p.vmId, 'reach a port of a machine', { action: 'view', online: true })
  const now = hub.market.now()
  const { ticket, claims } = signTicket(
    hub.keyPair.secretKey,
    { vmId: vm.id, nodeKey: pm.nodeKey, pmId: pm.id, user: who!.username, expires: now + TICKET_TTL_MS, clientKey },
    now,
  )
  return {
    ticket,
    vmId: vm.id,
    nodeKey: pm.nodeKey,
    expires: claims.expires,
    hostKeys: vm.hostKey ? [vm.hostKey] : [],
  }
}

/** Served by the hub beside the market and console methods; the authorization suite covers it. */
export const tunnelMethods: Record<
  string,
  {
    auth: 'user'
    fields: readonly string[]
    required: readonly string[]
    run(hub: TunnelHub & { viewerKey: string }, who: Identity | null, params: unknown): Promise<unknown>
  }
> = {
  'tunnel.ticket': {
    auth: 'user',
    fields: ['vmId'],
    required: ['vmId'],
    run: async (hub, who, params) => tunnelTicket(hub, who, params, hub.viewerKey),
  },
}
