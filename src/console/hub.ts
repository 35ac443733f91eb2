// The hub's side of console access: it alone knows who owns which machine and where it runs, so it
// hands the owner a short-lived ticket (report §6.1.8: "view" is allowed only while started) signed
// with its own key, and forwards console passwords to the provider; it never sees the console itself.
// Registered by the hub next to the market methods (see `consoleMethods`).
//
//   'console.ticket' {vmId} -> {ticket, vmId, nodeKey, expires, ssh: {host, port, fingerprint, user} | null}
//   'console.passwd' {vmId, password} -> {ok: true}
import type { KeyPair } from 'hyperdht'
import type { Market } from '../market/market.ts'
import type { ProviderGateway } from '../market/gateway.ts'
import type { Identity } from '../market/types.ts'
import { signTicket, TICKET_TTL_MS } from './ticket.ts'
import { checkConsolePassword } from './passwords.ts'

export interface ConsoleHub {
  market: Market
  /** The hub's key pair: the market key providers pin, so its signature is what they trust. */
  keyPair: KeyPair
  gateway: ProviderGateway
  /** The key (hex) of the connection that asks: a ticket is bound to it. */
  viewerKey: string
}

export interface TicketAnswer {
  ticket: string
  vmId: string
  /** The provider node to dial with the ticket (hex). */
  nodeKey: string
  expires: number
  ssh: {
    host: string | null
    port: number
    fingerprint: string | null
    user: string
    /** The console's host key ('ssh-ed25519 AAAA…') when the node reported it. */
    hostKey?: string | null
  } | null
}

export async function consoleTicket(hub: ConsoleHub, who: Identity | null, params: unknown): Promise<TicketAnswer> {
  const p = (params ?? {}) as { vmId?: unknown }
  const { vm, pm } = hub.market.placement(who, p.vmId, 'view the console of a machine', {
    action: 'view',
    online: true,
  })
  const now = hub.market.now()
  const { ticket, claims } = signTicket(
    hub.keyPair.secretKey,
    {
      vmId: vm.id,
      nodeKey: pm.nodeKey,
      pmId: pm.id,
      user: who!.username,
      clientKey: hub.viewerKey,
      expires: now + TICKET_TTL_MS,
    },
    now,
  )
  // The node reports where its SSH console listens at every hello; the pm row keeps what it said when added.
  const info = hub.market.nodeInfo(pm.nodeKey)
  const port = typeof info.sshPort === 'number' ? info.sshPort : pm.sshPort
  const fingerprint = typeof info.sshFingerprint === 'string' ? info.sshFingerprint : pm.sshFingerprint
  const host = typeof info.sshHost === 'string' ? info.sshHost : null
  return {
    ticket,
    vmId: vm.id,
    nodeKey: pm.nodeKey,
    expires: claims.expires,
    ssh:
      typeof port === 'number'
        ? {
            host,
            port,
            fingerprint,
            user: vm.id,
            hostKey: typeof info.sshHostKey === 'string' ? info.sshHostKey : null,
          }
        : null,
  }
}

export async function consolePasswd(hub: ConsoleHub, who: Identity | null, params: unknown): Promise<{ ok: true }> {
  const p = (params ?? {}) as { vmId?: unknown; password?: unknown }
  const { vm, pm } = hub.market.placement(who, p.vmId, 'set a console password', { settled: true, online: true })
  checkConsolePassword(p.password)
  await hub.gateway.command(pm.nodeKey, 'console.passwd', { vmId: vm.id, password: p.password })
  return { ok: true }
}

/** The hub's extra market@1 methods, in the shape of src/hub/methods.ts (the hub checks `auth` first). */
export const consoleMethods: Record<
  string,
  {
    auth: 'buyer'
    fields: readonly string[]
    required: readonly string[]
    run(hub: ConsoleHub, who: Identity | null, params: unknown): Promise<unknown>
  }
> = {
  'console.ticket': { auth: 'buyer', fields: ['vmId'], required: ['vmId'], run: consoleTicket },
  'console.passwd': { auth: 'buyer', fields: ['vmId', 'password'], required: ['vmId', 'password'], run: consolePasswd },
}
