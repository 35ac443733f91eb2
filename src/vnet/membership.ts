// A provider's membership of a buyer's network, signed by the hub (ed25519, the market key every
// provider pins): the hub gives it only to a provider that hosts a machine of that network, and a
// provider carries a network's frames only with peers that show one naming their own key.
import sodium from 'sodium-native'
import { VnetError, VNET_MEMBERSHIP_INVALID } from './errors.ts'

export const MEMBERSHIP_TTL_MS = 3_600_000
const VERSION = 2
/** Signed before the payload, so no other hub signature (a console ticket) reads as a membership. */
export const MEMBERSHIP_DOMAIN = Buffer.from('virtuoso/vnet-membership@2\n')

export interface MembershipClaims {
  v: number
  net: string
  /** The provider node (hex public key) it admits. */
  nodeKey: string
  expires: number
}

export const membershipError = (why: string) =>
  new VnetError(VNET_MEMBERSHIP_INVALID, `network membership refused: ${why}`)

export function signMembership(
  secretKey: Buffer,
  claims: { net: string; nodeKey: string; expires?: number },
  now = Date.now(),
): string {
  const full: MembershipClaims = {
    v: VERSION,
    net: claims.net,
    nodeKey: claims.nodeKey,
    expires: claims.expires ?? now + MEMBERSHIP_TTL_MS,
  }
  const payload = Buffer.from(JSON.stringify(full))
  const sig = Buffer.alloc(sodium.crypto_sign_BYTES)
  sodium.crypto_sign_detached(sig, Buffer.concat([MEMBERSHIP_DOMAIN, payload]), secretKey)
  return `${payload.toString('base64url')}.${sig.toString('base64url')}`
}

/** Checks signature, holder and time; returns the claims. */
export function verifyMembership(
  text: unknown,
  opts: { hubKey: Buffer; nodeKey: string; now?: number },
): MembershipClaims {
  if (typeof text !== 'string' || text.length > 2048) throw membershipError('it is missing or too long')
  const parts = text.split('.')
  if (parts.length !== 2) throw membershipError('it is not of the form payload.signature')
  const payload = Buffer.from(parts[0], 'base64url')
  const sig = Buffer.from(parts[1], 'base64url')
  if (
    sig.length !== sodium.crypto_sign_BYTES ||
    !sodium.crypto_sign_verify_detached(sig, Buffer.concat([MEMBERSHIP_DOMAIN, payload]), opts.hubKey)
  )
    throw membershipError('it is not signed by this market')
  let c: MembershipClaims
  try {
    c = JSON.parse(payload.toString('utf8'))
  } catch {
    throw membershipError('its payload is not JSON')
  }
  if (
    !c ||
    c.v !== VERSION ||
    typeof c.net !== 'string' ||
    typeof c.nodeKey !== 'string' ||
    typeof c.expires !== 'number'
  )
    throw membershipError('its payload is malformed')
  if (c.nodeKey !== opts.nodeKey) throw membershipError('it names another provider')
  if (c.expires <= (opts.now ?? Date.now())) throw membershipError('it has expired')
  return c
}
