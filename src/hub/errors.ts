// Errors of the hub room: its data directory, export and import files, the admin socket and the
// image files it is handed. The codes keep the values clients already match (MARKET_*: they were
// minted in the market before export and import moved here).
import { VirtuosoError } from '../errors.ts'

export const HUB_BAD_INPUT = 'MARKET_BAD_INPUT'
export const HUB_RUNNING = 'MARKET_HUB_RUNNING'
export const HUB_NOT_EMPTY = 'MARKET_NOT_EMPTY'
export const HUB_EXPORT_INVALID = 'MARKET_EXPORT_INVALID'
export const HUB_UNBALANCED = 'MARKET_UNBALANCED'

export type HubCode =
  typeof HUB_BAD_INPUT | typeof HUB_RUNNING | typeof HUB_NOT_EMPTY | typeof HUB_EXPORT_INVALID | typeof HUB_UNBALANCED

export class HubError extends VirtuosoError {
  constructor(code: HubCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options)
    this.name = 'HubError'
  }
}

export const hubError = {
  badInput: (what: string, why: string, cause?: unknown) => new HubError(HUB_BAD_INPUT, `${what}: ${why}`, { cause }),
  running: (dir: string, what: string) =>
    new HubError(HUB_RUNNING, `the hub at ${dir} is running: stop it first (${what} never runs on a live hub)`),
  notEmpty: (dir: string, what: string) =>
    new HubError(
      HUB_NOT_EMPTY,
      `${dir} already holds a market (${what}): import only into a new data directory; nothing was changed`,
    ),
  exportInvalid: (file: string, why: string) =>
    new HubError(HUB_EXPORT_INVALID, `${file} is not a whole export (${why}); nothing was imported`),
  unbalanced: (where: string, why: string) =>
    new HubError(HUB_UNBALANCED, `${where}: balances do not match the ledger (${why})`),
}
