// Errors of the console room. The codes keep the values clients already match (they were minted as
// HV_* and NODE_* before the console had a room of its own); each is named here, once, and thrown
// only by this room as a ConsoleError. A lower layer's error travels as `cause`.
import { VirtuosoError } from '../errors.ts'

/** Why a viewer was hung up (sent to the viewer as the session's end). */
export const CONSOLE_TAKEN_OVER = 'HV_CONSOLE_TAKEN_OVER'
export const CONSOLE_VM_STOPPED = 'HV_CONSOLE_VM_STOPPED'
export const CONSOLE_VM_SUSPENDED = 'HV_CONSOLE_VM_SUSPENDED'
export const CONSOLE_VM_MIGRATING = 'HV_CONSOLE_VM_MIGRATING'
export const CONSOLE_VM_GONE = 'HV_CONSOLE_VM_GONE'
export const CONSOLE_ENDED = 'HV_CONSOLE_ENDED'
export const CONSOLE_HUNG_UP = 'HV_CONSOLE_HUNG_UP'
export const CONSOLE_SHUTDOWN = 'HV_CONSOLE_SHUTDOWN'
/** The viewer left (detached) or its connection to the provider closed. */
export const CONSOLE_DETACHED = 'NODE_CONSOLE_DETACHED'
export const CONSOLE_CONNECTION_CLOSED = 'NODE_CONNECTION_CLOSED'

/** Thrown. */
export const CONSOLE_CLOSED = 'HV_CONSOLE_CLOSED'
export const CONSOLE_SCREEN = 'HV_SCREEN'
export const CONSOLE_TICKET_INVALID = 'NODE_TICKET_INVALID'
export const CONSOLE_TICKET_EXPIRED = 'NODE_TICKET_EXPIRED'
export const CONSOLE_TICKET_REPLAYED = 'NODE_TICKET_REPLAYED'
export const CONSOLE_PASSWORD = 'NODE_CONSOLE_PASSWORD'
/** The VNC screen was asked with a console password that does not match the machine's. */
export const CONSOLE_WRONG_PASSWORD = 'NODE_CONSOLE_WRONG_PASSWORD'
/** A console@1 request this provider cannot serve (a second session, a screen it does not have). */
export const CONSOLE_BAD_REQUEST = 'NODE_BAD_FRAME'
/** The SSH host key on disk is not usable. */
export const CONSOLE_HOST_KEY = 'NODE_CONFIG'

export type ConsoleCode =
  | typeof CONSOLE_CLOSED
  | typeof CONSOLE_SCREEN
  | typeof CONSOLE_TICKET_INVALID
  | typeof CONSOLE_TICKET_EXPIRED
  | typeof CONSOLE_TICKET_REPLAYED
  | typeof CONSOLE_PASSWORD
  | typeof CONSOLE_WRONG_PASSWORD
  | typeof CONSOLE_BAD_REQUEST
  | typeof CONSOLE_HOST_KEY

export class ConsoleError extends VirtuosoError {
  constructor(code: ConsoleCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options)
    this.name = 'ConsoleError'
  }
}
