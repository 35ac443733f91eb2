// MARKET_* errors. Each factory builds one line a person can act on: what failed, why, what to do.
// Tests and clients match on `code`; the wording may change freely.
import { VirtuosoError } from '../errors.ts'

export const MARKET_BAD_INPUT = 'MARKET_BAD_INPUT'
export const MARKET_AUTH_REQUIRED = 'MARKET_AUTH_REQUIRED'
export const MARKET_BAD_CREDENTIALS = 'MARKET_BAD_CREDENTIALS'
export const MARKET_SESSION_EXPIRED = 'MARKET_SESSION_EXPIRED'
export const MARKET_FORBIDDEN = 'MARKET_FORBIDDEN'
export const MARKET_NOT_FOUND = 'MARKET_NOT_FOUND'
export const MARKET_USER_EXISTS = 'MARKET_USER_EXISTS'
export const MARKET_ACTION_NOT_ALLOWED = 'MARKET_ACTION_NOT_ALLOWED'
export const MARKET_INSUFFICIENT_FUNDS = 'MARKET_INSUFFICIENT_FUNDS'
export const MARKET_STORAGE_DEBT = 'MARKET_STORAGE_DEBT'
export const MARKET_NO_ROOM = 'MARKET_NO_ROOM'
export const MARKET_PAIRING_INVALID = 'MARKET_PAIRING_INVALID'
export const MARKET_PM_BUSY = 'MARKET_PM_BUSY'
export const MARKET_PROVIDER_OFFLINE = 'MARKET_PROVIDER_OFFLINE'
export const MARKET_PROVIDER_FAILED = 'MARKET_PROVIDER_FAILED'
export const MARKET_VERSION_MISMATCH = 'MARKET_VERSION_MISMATCH'
export const MARKET_BUSY = 'MARKET_BUSY'
export const MARKET_STORAGE_FAILED = 'MARKET_STORAGE_FAILED'
export const MARKET_NET_EXISTS = 'MARKET_NET_EXISTS'
export const MARKET_NET_IN_USE = 'MARKET_NET_IN_USE'
export const MARKET_NET_FULL = 'MARKET_NET_FULL'

export type MarketCode =
  | typeof MARKET_BAD_INPUT
  | typeof MARKET_AUTH_REQUIRED
  | typeof MARKET_BAD_CREDENTIALS
  | typeof MARKET_SESSION_EXPIRED
  | typeof MARKET_FORBIDDEN
  | typeof MARKET_NOT_FOUND
  | typeof MARKET_USER_EXISTS
  | typeof MARKET_ACTION_NOT_ALLOWED
  | typeof MARKET_INSUFFICIENT_FUNDS
  | typeof MARKET_STORAGE_DEBT
  | typeof MARKET_NO_ROOM
  | typeof MARKET_PAIRING_INVALID
  | typeof MARKET_PM_BUSY
  | typeof MARKET_PROVIDER_OFFLINE
  | typeof MARKET_PROVIDER_FAILED
  | typeof MARKET_VERSION_MISMATCH
  | typeof MARKET_BUSY
  | typeof MARKET_STORAGE_FAILED
  | typeof MARKET_NET_EXISTS
  | typeof MARKET_NET_IN_USE
  | typeof MARKET_NET_FULL

/** Every error the market throws; `code` is one of the constants above. */
export class MarketError extends VirtuosoError {
  constructor(code: MarketCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options)
    this.name = 'MarketError'
  }
}

export function marketError(code: MarketCode, message: string, cause?: unknown): MarketError {
  return new MarketError(code, message, { cause })
}

export const errors = {
  badInput: (what: string, why: string) => marketError(MARKET_BAD_INPUT, `${what}: ${why}`),
  authRequired: () =>
    marketError(MARKET_AUTH_REQUIRED, 'you are not logged in (or the session is unknown): run `virtuoso login` first'),
  badCredentials: () =>
    marketError(MARKET_BAD_CREDENTIALS, 'login failed: wrong username or password; check both and try again'),
  sessionExpired: () => marketError(MARKET_SESSION_EXPIRED, 'your session has expired: run `virtuoso login` again'),
  forbidden: (what: string, who: string) =>
    marketError(MARKET_FORBIDDEN, `${what} is not allowed for ${who}; log in with the right kind of account`),
  // A forged id must answer exactly like an id that does not exist: no hint that it belongs to someone.
  notFound: (kind: string, id: string) =>
    marketError(MARKET_NOT_FOUND, `${kind} ${id} not found; list yours with \`virtuoso machines\``),
  userExists: (username: string) =>
    marketError(MARKET_USER_EXISTS, `the username ${username} is taken; choose another one`),
  actionNotAllowed: (action: string, state: string, allowed: readonly string[]) =>
    marketError(
      MARKET_ACTION_NOT_ALLOWED,
      `cannot ${action} a machine that is ${state}; allowed now: ${allowed.length ? allowed.join(', ') : 'nothing'}`,
    ),
  insufficientFunds: (what: string, need: string, have: string) =>
    marketError(
      MARKET_INSUFFICIENT_FUNDS,
      `cannot ${what}: it costs ${need} and your balance is ${have}; ask the operator to credit your account`,
    ),
  storageDebt: (vmId: string, debt: string) =>
    marketError(
      MARKET_STORAGE_DEBT,
      `machine ${vmId} owes ${debt} for storage; it cannot start or migrate until the debt is paid (credit your ` +
        `account)`,
    ),
  noRoom: (pmId: string, why: string) =>
    marketError(
      MARKET_NO_ROOM,
      `provider machine ${pmId} has no room for it (${why}); pick another with \`virtuoso search\``,
    ),
  pairingInvalid: () =>
    marketError(
      MARKET_PAIRING_INVALID,
      'no connected provider node shows that pairing code (wrong, already used, or the node is offline); start ' +
        'the node and copy the code it prints',
    ),
  pmBusy: (pmId: string, count: number) =>
    marketError(
      MARKET_PM_BUSY,
      `provider machine ${pmId} still holds ${count} stored machine(s); use --drain DURATION to give their ` +
        `owners time to move`,
    ),
  providerOffline: (pmId: string) =>
    marketError(MARKET_PROVIDER_OFFLINE, `provider machine ${pmId} is offline; try again when its node is connected`),
  providerFailed: (action: string, vmId: string, cause: unknown) =>
    marketError(
      MARKET_PROVIDER_FAILED,
      `the provider could not ${action} machine ${vmId}: ${(cause as Error)?.message ?? String(cause)}; nothing ` +
        `was changed, try again`,
      cause,
    ),
  versionMismatch: (vmId: string, ours: number, theirs: unknown) =>
    marketError(
      MARKET_VERSION_MISMATCH,
      `machine ${vmId}: the provider reports version ${String(theirs)} but the hub expects ${ours}; the ` +
        `operator should check the event log`,
    ),
  busy: (vmId: string) =>
    marketError(MARKET_BUSY, `another action on machine ${vmId} is in progress; wait for it to finish and try again`),
  netExists: (name: string) =>
    marketError(MARKET_NET_EXISTS, `you already have a network named ${name}; pick another name`),
  netInUse: (name: string, count: number) =>
    marketError(
      MARKET_NET_IN_USE,
      `network ${name} still has ${count} machine(s); delete them first (\`virtuoso net list\` shows them)`,
    ),
  netFull: (name: string, subnet: string) =>
    marketError(
      MARKET_NET_FULL,
      `network ${name} (${subnet}) has no free address; create a network with a larger --subnet`,
    ),
  storageFailed: (cause: unknown) =>
    marketError(
      MARKET_STORAGE_FAILED,
      `the hub could not write its database (${(cause as Error)?.message ?? String(cause)}); restart the hub`,
      cause,
    ),
}
