// Errors the CLI itself raises: bad usage, a missing program, what a command finds in the answers it
// got. The codes keep the values --json has always printed (a machine the market does not list for
// you reads MARKET_NOT_FOUND whichever side finds it); each is named here once and thrown as a
// CliError. An error from a lower layer passes through unchanged, with its own code.
import { VirtuosoError } from '../errors.ts'

/** Bad arguments: exit status 2 (src/cli/output.ts). */
export const CLI_USAGE = 'CLI_USAGE'
export const CLI_SSH_MISSING = 'CLI_SSH_MISSING'
/** The node or the demo cannot run as configured (QEMU missing, the set-up step failed). */
export const CLI_CONFIG = 'NODE_CONFIG'
export const CLI_STOPPED = 'NODE_STOPPED'
/** The hub's connection closed while a command was following it. */
export const CLI_CONNECTION_CLOSED = 'NODE_CONNECTION_CLOSED'
/** The machine's provider runs no SSH console. */
export const CLI_NO_SSH_CONSOLE = 'NODE_CONSOLE_NO_SSH'
/** Not among the machines or providers the market listed for this user. */
export const CLI_NOT_FOUND = 'MARKET_NOT_FOUND'
export const CLI_NOT_ALLOWED = 'MARKET_ACTION_NOT_ALLOWED'
/** A migration failed without a code of its own. */
export const CLI_MIGRATION_FAILED = 'VMMP_FAILED'

export type CliCode =
  | typeof CLI_USAGE
  | typeof CLI_SSH_MISSING
  | typeof CLI_CONFIG
  | typeof CLI_STOPPED
  | typeof CLI_CONNECTION_CLOSED
  | typeof CLI_NO_SSH_CONSOLE
  | typeof CLI_NOT_FOUND
  | typeof CLI_NOT_ALLOWED
  | typeof CLI_MIGRATION_FAILED

export class CliError extends VirtuosoError {
  constructor(code: CliCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options)
    this.name = 'CliError'
  }
}

export const usage = (message: string, cause?: unknown) => new CliError(CLI_USAGE, message, { cause })
