// Errors of the client room: which market a command talks to, and whether this user has a session
// with it. The codes keep the values the CLI's --json has always printed (a missing login reads as
// the hub's own MARKET_AUTH_REQUIRED); each is named here once and thrown as a ClientError.
import { VirtuosoError } from '../errors.ts'

/** The command does not say which market, or how to reach it. */
export const CLIENT_USAGE = 'CLI_USAGE'
/** No saved session for this market. */
export const CLIENT_AUTH_REQUIRED = 'MARKET_AUTH_REQUIRED'

export type ClientCode = typeof CLIENT_USAGE | typeof CLIENT_AUTH_REQUIRED

export class ClientError extends VirtuosoError {
  constructor(code: ClientCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options)
    this.name = 'ClientError'
  }
}

export const clientError = {
  usage: (message: string) => new ClientError(CLIENT_USAGE, message),
  notLoggedIn: () =>
    new ClientError(
      CLIENT_AUTH_REQUIRED,
      'you are not logged in to this market: run `virtuoso login --user NAME` first',
    ),
}
