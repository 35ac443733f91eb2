// Errors of the transport room and of the RPC answers every node role gives (an unknown method, a
// malformed request, a peer that is not connected): codes start with NODE_ (the node's protocol
// vocabulary, older than this room's name), exported here as NET_* constants and thrown as NetError.
import { VirtuosoError } from '../errors.ts'

export const NET_TIMEOUT = 'NODE_TIMEOUT'
export const NET_CONNECTION_CLOSED = 'NODE_CONNECTION_CLOSED'
export const NET_UNREACHABLE = 'NODE_UNREACHABLE'
export const NET_BAD_FRAME = 'NODE_BAD_FRAME'
export const NET_FRAME_TOO_LARGE = 'NODE_FRAME_TOO_LARGE'
export const NET_UNKNOWN_METHOD = 'NODE_UNKNOWN_METHOD'
export const NET_CONFIG = 'NODE_CONFIG'
export const NET_FORBIDDEN = 'NODE_FORBIDDEN'
export const NET_VERSION_MISMATCH = 'NODE_VERSION_MISMATCH'
export const NET_OFFLINE = 'NODE_OFFLINE'
/** A peer or an account used up its tries (src/net/limits.ts). */
export const NET_RATE_LIMITED = 'NODE_RATE_LIMITED'
/** The server runs as many expensive jobs, or one peer's requests, as it takes at once. */
export const NET_BUSY = 'NODE_BUSY'

export type NetCode =
  | typeof NET_TIMEOUT
  | typeof NET_CONNECTION_CLOSED
  | typeof NET_UNREACHABLE
  | typeof NET_BAD_FRAME
  | typeof NET_FRAME_TOO_LARGE
  | typeof NET_UNKNOWN_METHOD
  | typeof NET_CONFIG
  | typeof NET_FORBIDDEN
  | typeof NET_VERSION_MISMATCH
  | typeof NET_OFFLINE
  | typeof NET_RATE_LIMITED
  | typeof NET_BUSY

export class NetError extends VirtuosoError {
  constructor(code: NetCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options)
    this.name = 'NetError'
  }
}

export const nodeError = {
  timeout: (what: string, ms: number) =>
    new NetError(
      NET_TIMEOUT,
      `${what} got no answer within ${Math.round(ms / 1000)} s; check that the peer is running and reachable`,
    ),
  closed: (what: string) =>
    new NetError(NET_CONNECTION_CLOSED, `the connection closed before ${what} was answered; try again`),
  unreachable: (what: string, cause?: unknown) =>
    new NetError(NET_UNREACHABLE, `could not reach ${what}; check the market key and the --bootstrap address`, {
      cause,
    }),
  badFrame: (why: string) => new NetError(NET_BAD_FRAME, `malformed message: ${why}`),
  tooLarge: (size: number, max: number) =>
    new NetError(NET_FRAME_TOO_LARGE, `message of ${size} bytes exceeds the limit of ${max} bytes`),
  unknownMethod: (method: string) => new NetError(NET_UNKNOWN_METHOD, `unknown method "${method}"`),
  config: (message: string) => new NetError(NET_CONFIG, message),
  forbidden: (message: string) => new NetError(NET_FORBIDDEN, message),
  versionMismatch: (vmId: string, hub: number, here: number) =>
    new NetError(
      NET_VERSION_MISMATCH,
      `machine ${vmId} is at version ${here} here but the hub expected ${hub}; nothing was changed`,
    ),
  offline: (what: string) =>
    new NetError(NET_OFFLINE, `${what} is not connected to the hub right now; try again when it is online`),
}
