// Console tickets: the hub decides who may view which machine (it knows owners and states), the
// provider only checks a ticket, so a provider needs no accounts and a buyer no provider secret.
// A ticket names one machine on one provider node, one user, the key of the connection that asked
// the hub for it (`clientKey`: console@1 and tunnels serve it only to a connection proving that key,
// so a ticket read off a screen or a log opens nothing), and expires within a minute. It is signed
// with the hub's ed25519 key (the market key the provider already pins) over a domain prefix, so no
// other signature the hub makes (network memberships, anything later) reads as a ticket. Its nonce
// is remembered until it expires, on disk when the verifier has a file (used-nonces.ts), so a ticket
// opens one session, also across a restart of the node.
import sodium from 'sodium-native'
import { randomBytes } from 'node:crypto'
import { ConsoleError, CONSOLE_TICKET_EXPIRED, CONSOLE_TICKET_INVALID, CONSOLE_TICKET_REPLAYED } from './errors.ts'
import { UsedNonces } from './used-nonces.ts'

export const TICKET_TTL_MS = 60_000
/** Clocks of hub and provider may differ a little; a ticket valid for longer than TTL + skew is refused. */
export const TICKET_SKEW_MS = 5_000
const TICKET_VERSION = 2
/** Signed before the payload: what the signature is for. */
export const TICKET_DOMAIN = Buffer.from('virtuoso/console-ticket@2\n')

export interface TicketClaims {
  v: number
  vmId: string
  /** The provider node (hex public key) the machine runs on. */
  nodeKey: string
  pmId: string | null
  user: string
  /** ms since the epoch. */
  expires: number
  nonce: string
  /** When set, only a connection from this Noise public key (hex) may use the ticket (tunnels). */
  clientKey?: string
}

export const ticketError = {
  bad: (why: string) =>
    new ConsoleError(
      CONSOLE_TICKET_INVALID,
      `console ticket refused: ${why}; ask the hub for a new one (\`virtuoso console VMID\` does)`,
    ),
  expired: () =>
    new ConsoleError(
      CONSOLE_TICKET_EXPIRED,
      'console ticket expired; ask the hub for a new one (`virtuoso console VMID` does)',
    ),
  replayed: () =>
    new ConsoleError(
      CONSOLE_TICKET_REPLAYED,
      'console ticket already used; each ticket opens one session, ask the hub for a new one',
    ),
}

/** Sign a ticket with the hub's secret key (64-byte ed25519). Returns the wire form `payload.signature`. */
export function signTicket(
  secretKey: Buffer,
  claims: Omit<TicketClaims, 'v' | 'nonce' | 'expires'> & { expires?: number; nonce?: string },
  now = Date.now(),
): { ticket: string; claims: TicketClaims } {
  const full: TicketClaims = {
    v: TICKET_VERSION,
    vmId: claims.vmId,
    nodeKey: claims.nodeKey,
    pmId: claims.pmId ?? null,
    user: claims.user,
    expires: claims.expires ?? now + TICKET_TTL_MS,
    nonce: claims.nonce ?? randomBytes(16).toString('hex'),
    ...(claims.clientKey ? { clientKey: claims.clientKey } : {}),
  }
  // The exact bytes signed travel with the ticket: no canonical-JSON question on the verifying side.
  const payload = Buffer.from(JSON.stringify(full))
  const sig = Buffer.alloc(sodium.crypto_sign_BYTES)
  sodium.crypto_sign_detached(sig, Buffer.concat([TICKET_DOMAIN, payload]), secretKey)
  return { ticket: `${payload.toString('base64url')}.${sig.toString('base64url')}`, claims: full }
}

export interface VerifyOptions {
  /** The hub key this provider pins (the market key). */
  hubKey: Buffer
  /** This provider node's key (hex): a ticket for another node is refused. */
  nodeKey: string
  /** The machine asked for, when the caller names one. */
  vmId?: string
  now?: number
  /** The key the ticket is shown from; a ticket bound to another key is refused. */
  clientKey?: string
  /** Refuse tickets that are not bound to a key (tunnels need one). */
  requireClientKey?: boolean
}

/** Read a ticket without trusting it: signature, node, machine and time are all checked. */
export function verifyTicket(ticket: unknown, opts: VerifyOptions): TicketClaims {
  if (typeof ticket !== 'string' || ticket.length > 4096) throw ticketError.bad('it is missing or too long')
  const parts = ticket.split('.')
  if (parts.length !== 2) throw ticketError.bad('it is not of the form payload.signature')
  const payload = Buffer.from(parts[0], 'base64url')
  const sig = Buffer.from(parts[1], 'base64url')
  if (sig.length !== sodium.crypto_sign_BYTES) throw ticketError.bad('the signature has the wrong length')
  if (!sodium.crypto_sign_verify_detached(sig, Buffer.concat([TICKET_DOMAIN, payload]), opts.hubKey))
    throw ticketError.bad('it is not signed by the market this provider serves')
  let c: TicketClaims
  try {
    c = JSON.parse(payload.toString('utf8'))
  } catch {
    throw ticketError.bad('its payload is not JSON')
  }
  if (
    !c ||
    c.v !== TICKET_VERSION ||
    typeof c.vmId !== 'string' ||
    typeof c.nodeKey !== 'string' ||
    typeof c.user !== 'string' ||
    typeof c.expires !== 'number' ||
    typeof c.nonce !== 'string' ||
    c.nonce.length < 16
  )
    throw ticketError.bad('its payload is malformed')
  if (c.nodeKey !== opts.nodeKey) throw ticketError.bad('it is for another provider node')
  if (c.clientKey !== undefined && typeof c.clientKey !== 'string') throw ticketError.bad('its payload is malformed')
  if (opts.requireClientKey && !c.clientKey) throw ticketError.bad('it is not bound to a key')
  if (c.clientKey && c.clientKey !== opts.clientKey) throw ticketError.bad('it was issued to another key')
  if (opts.vmId !== undefined && c.vmId !== opts.vmId)
    throw ticketError.bad(`it is for machine ${c.vmId}, not ${opts.vmId}`)
  const now = opts.now ?? Date.now()
  if (c.expires <= now) throw ticketError.expired()
  if (c.expires > now + TICKET_TTL_MS + TICKET_SKEW_MS)
    throw ticketError.bad('it claims to be valid for longer than a ticket may be')
  return c
}

/** Verify and consume in one step: what a console server does with a ticket it is shown. The
 *  nonce is recorded at once (a second use is refused even before it reaches the disk); a caller
 *  that must not honour a ticket before its nonce is on disk awaits `flushed()`. */
export class TicketVerifier {
  readonly nonces: UsedNonces
  private writing: Promise<void> = Promise.resolve()

  constructor(private opts: Omit<VerifyOptions, 'vmId' | 'now'> & { clock?: () => number; nonceFile?: string }) {
    this.nonces = new UsedNonces({ file: opts.nonceFile, clock: opts.clock })
  }

  /** Read the nonces a previous run left (once, before the first accept). */
  load(): Promise<void> {
    return this.nonces.load()
  }

  accept(ticket: unknown, vmId?: string, bound?: { clientKey: string }): TicketClaims {
    const now = this.opts.clock?.() ?? Date.now()
    const c = verifyTicket(ticket, {
      hubKey: this.opts.hubKey,
      nodeKey: this.opts.nodeKey,
      vmId,
      now,
      clientKey: bound?.clientKey,
      requireClientKey: !!bound,
    })
    const used = this.nonces.use(c.nonce, c.expires)
    if (!used) throw ticketError.replayed()
    this.writing = used.written
    return c
  }

  /** The last accepted nonce is on disk (or could not be written: then this rejects). */
  flushed(): Promise<void> {
    return this.writing
  }
}
