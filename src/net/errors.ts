// Errors of the node layer: transport, RPC, process wiring. Codes start with NODE_.
import { VirtuosoError } from '../errors.ts'

export const nodeError = {
  timeout: (what: string, ms: number) =>
    new VirtuosoError(
      'NODE_TIMEOUT',
      `${what} got no answer within ${Math.round(ms / 1000)} s; check that the peer is running and reachable`,
    ),
  closed: (what: string) =>
    new VirtuosoError('NODE_CONNECTION_CLOSED', `the connection closed before ${what} was answered; try again`),
  unreachable: (what: string, cause?: unknown) =>
    new VirtuosoError('NODE_UNREACHABLE', `could not reach ${what}; check the market key and the --bootstrap address`, {
      cause,
    }),
  badFrame: (why: string) => new VirtuosoError('NODE_BAD_FRAME', `malformed message: ${why}`),
  tooLarge: (size: number, max: number) =>
    new VirtuosoError('NODE_FRAME_TOO_LARGE', `message of ${size} bytes exceeds the limit of ${max} bytes`),
  unknownMethod: (method: string) => new VirtuosoError('NODE_UNKNOWN_METHOD', `unknown method "${method}"`),
  config: (message: string) => new VirtuosoError('NODE_CONFIG', message),
  forbidden: (message: string) => new VirtuosoError('NODE_FORBIDDEN', message),
  versionMismatch: (vmId: string, hub: number, here: number) =>
    new VirtuosoError(
      'NODE_VERSION_MISMATCH',
      `machine ${vmId} is at version ${here} here but the hub expected ${hub}; nothing was changed`,
    ),
  offline: (what: string) =>
    new VirtuosoError('NODE_OFFLINE', `${what} is not connected to the hub right now; try again when it is online`),
}
