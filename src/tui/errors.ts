// Errors the dashboard itself raises, all about reaching a machine's console or screen; an error from
// a lower layer (a ticket refused, a provider that does not answer) is shown with its own code.
import { VirtuosoError } from '../errors.ts'

/** This session has no DHT node to dial providers with, so the console and the picture cannot open. */
export const TUI_CONSOLE_UNAVAILABLE = 'TUI_CONSOLE_UNAVAILABLE'
/** The console failed with an error that carried no code of its own. */
export const TUI_CONSOLE_FAILED = 'TUI_CONSOLE_FAILED'

export type TuiCode = typeof TUI_CONSOLE_UNAVAILABLE | typeof TUI_CONSOLE_FAILED

export class TuiError extends VirtuosoError {
  constructor(code: TuiCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options)
    this.name = 'TuiError'
  }
}

/** No way to dial providers from here; `instead` is the CLI command that shows the same. */
export const consoleUnavailable = (instead: string) =>
  new TuiError(TUI_CONSOLE_UNAVAILABLE, `this session cannot dial providers; use \`${instead}\``)
