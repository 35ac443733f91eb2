// Errors of the migration layer. Codes are what tests, the hub's agent and clients match on; each
// message says what failed, why, and what to do, in one line.
import { VirtuosoError } from '../errors.ts'

export const VMMP_BAD_MESSAGE = 'VMMP_BAD_MESSAGE'
export const VMMP_UNSUPPORTED_VERSION = 'VMMP_UNSUPPORTED_VERSION'
export const VMMP_UNKNOWN_METHOD = 'VMMP_UNKNOWN_METHOD'
export const VMMP_UNAUTHORIZED = 'VMMP_UNAUTHORIZED'
export const VMMP_CORRUPT = 'VMMP_CORRUPT'
export const VMMP_STALLED = 'VMMP_STALLED'
export const VMMP_NO_SPACE = 'VMMP_NO_SPACE'
export const VMMP_CLOSED = 'VMMP_CLOSED'
export const VMMP_ABORTED = 'VMMP_ABORTED'
export const VMMP_IO = 'VMMP_IO'
export const VMMP_PROTOCOL = 'VMMP_PROTOCOL'
export const VMMP_DIGEST_MISMATCH = 'VMMP_DIGEST_MISMATCH'
/** The SSH server that answered is not the origin the hub knows (its host key differs). */
export const VMMP_HOST_KEY = 'VMMP_HOST_KEY'
/** The destination answered RESP FAIL; its own reason comes with its abort answer. */
export const VMMP_REMOTE_FAIL = 'VMMP_REMOTE_FAIL'

export type VmmpErrorCode =
  | typeof VMMP_BAD_MESSAGE
  | typeof VMMP_UNSUPPORTED_VERSION
  | typeof VMMP_UNKNOWN_METHOD
  | typeof VMMP_UNAUTHORIZED
  | typeof VMMP_CORRUPT
  | typeof VMMP_STALLED
  | typeof VMMP_NO_SPACE
  | typeof VMMP_CLOSED
  | typeof VMMP_ABORTED
  | typeof VMMP_IO
  | typeof VMMP_PROTOCOL
  | typeof VMMP_DIGEST_MISMATCH
  | typeof VMMP_HOST_KEY
  | typeof VMMP_REMOTE_FAIL

export class VmmpError extends VirtuosoError {
  constructor(code: VmmpErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options)
    this.name = 'VmmpError'
  }
}

/** A frame in a protocol version we do not speak: carries what it claimed and what we speak, so the
 *  receiver can answer in 1.0 (see GRAMMAR.md) and the sender can fall back. */
export class VmmpVersionError extends VmmpError {
  constructor(
    readonly version: string,
    readonly supported: readonly string[],
    readonly kind: string | null,
    readonly id: string | null,
  ) {
    super(
      VMMP_UNSUPPORTED_VERSION,
      `VMMP ${version} is not supported (this node speaks ${supported.join(', ')}); resend in ` +
        `${supported[supported.length - 1]}.`,
    )
    this.name = 'VmmpVersionError'
  }
}

export const vmmpError = {
  bad: (why: string) => new VmmpError(VMMP_BAD_MESSAGE, `Rejected VMMP frame: ${why}.`),
  methodUnavailable: (name: string, why: string) =>
    new VmmpError(VMMP_UNKNOWN_METHOD, `Migration method ${name} is not available on this provider: ${why}.`),
  unknownMethod: (name: string, known: string[]) =>
    new VmmpError(
      VMMP_UNKNOWN_METHOD,
      `Migration method '${name}' is not supported here (known: ${known.join(', ') || 'none'}); pick one the ` +
        `destination listed in RESULTS.`,
    ),
  unauthorized: (what: string) =>
    new VmmpError(
      VMMP_UNAUTHORIZED,
      `Refused ${what}: no authorized migration matches; only the hub-named destination may fetch a machine.`,
    ),
  corrupt: (what: string) =>
    new VmmpError(VMMP_CORRUPT, `Corrupt data: ${what}; the copy was not accepted, retry the migration.`),
  stalled: (ms: number) =>
    new VmmpError(
      VMMP_STALLED,
      `Transfer stalled: no data and no heartbeat for ${ms} ms; the migration is abandoned and may be retried.`,
    ),
  noSpace: (path: string, cause?: unknown) =>
    new VmmpError(VMMP_NO_SPACE, `No space left for ${path}; free space on the destination provider and retry.`, {
      cause,
    }),
  closed: (what: string) =>
    new VmmpError(VMMP_CLOSED, `Connection closed during ${what}; the copy was not accepted, retry the migration.`),
  /** The destination answered RESP FAIL (RESP carries no reason: the destination's abort answer does). */
  remoteFail: () => new VmmpError(VMMP_REMOTE_FAIL, 'the destination answered RESP FAIL; the migration was reverted'),
  /** No HEARTBEAT within the window (the hub's agent gives up on the destination). */
  silent: (ms: number) =>
    new VmmpError(
      VMMP_STALLED,
      `no HEARTBEAT from the destination for ${ms} ms; the migration was reverted, try again`,
    ),
  /** The hub has no vmmp@1 channel to that node (it is offline or reconnecting). */
  noChannel: (nodeKey: string) =>
    new VmmpError(
      VMMP_CLOSED,
      `provider node ${nodeKey.slice(0, 8)} has no migration channel open; try again when it is connected`,
    ),
  /** vmmp@1 is already open on this connection (one migration channel per peer). */
  channelTaken: () => new VmmpError(VMMP_PROTOCOL, 'vmmp@1 is already open on this connection'),
  aborted: (why = 'aborted by the caller') =>
    new VmmpError(VMMP_ABORTED, `Migration transfer ${why}; the copy was not accepted.`),
  io: (what: string, cause?: unknown) =>
    new VmmpError(VMMP_IO, `I/O error ${what}: ${cause instanceof Error ? cause.message : String(cause)}.`, { cause }),
  protocol: (why: string) => new VmmpError(VMMP_PROTOCOL, `Peer broke the transfer protocol: ${why}.`),
  hostKey: (what: string) =>
    new VmmpError(
      VMMP_HOST_KEY,
      `Refused the origin's SSH server: ${what}; nothing was copied (another server may answer on that address).`,
    ),
  digestMismatch: (what: string) =>
    new VmmpError(
      VMMP_DIGEST_MISMATCH,
      `Digest mismatch: ${what}; the source does not hold the image the catalog names, nothing was kept.`,
    ),
}

/** Map a filesystem error to our codes: ENOSPC/EDQUOT are the destination's problem to fix. */
export function fsError(what: string, path: string, err: unknown): VirtuosoError {
  if (err instanceof VirtuosoError) return err
  const code = (err as NodeJS.ErrnoException)?.code
  if (code === 'ENOSPC' || code === 'EDQUOT') return vmmpError.noSpace(path, err)
  return vmmpError.io(`${what} ${path}`, err)
}
