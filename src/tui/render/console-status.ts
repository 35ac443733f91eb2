// Console view, status line: the session's state (and why it ended or failed, by the error's code)
// → one line saying what the console is doing, or why not, and what to do about it.
import { TUI_CONSOLE_UNAVAILABLE } from '../errors.ts'
import {
  CONSOLE_ENDED,
  CONSOLE_HUNG_UP,
  CONSOLE_SHUTDOWN,
  CONSOLE_TAKEN_OVER,
  CONSOLE_VM_GONE,
  CONSOLE_VM_MIGRATING,
  CONSOLE_VM_STOPPED,
  CONSOLE_VM_SUSPENDED,
} from '../../console/errors.ts'
import { NET_CONNECTION_CLOSED, NET_TIMEOUT, NET_UNREACHABLE } from '../../net/errors.ts'
import { MARKET_ACTION_NOT_ALLOWED, MARKET_PROVIDER_OFFLINE } from '../../market/errors.ts'
import { DETACH_HINT } from './console-keys.ts'

export type ConsolePhase = 'idle' | 'connecting' | 'attached' | 'ended' | 'failed'

export interface ConsoleStatusInput {
  phase: ConsolePhase
  /** The machine's name and provider, for the messages. */
  machine: string
  provider?: string
  /** The machine's state in the market. */
  state?: string
  /** Why the session ended or failed to start: a code and the message it came with. */
  reason?: { code: string; message: string } | null
  cols?: number
  rows?: number
}

export type StatusTone = 'ok' | 'warn' | 'error' | 'muted'

/** One line: what the console is doing, or why not, and what to do about it. */
export function consoleStatus(s: ConsoleStatusInput): { text: string; tone: StatusTone } {
  const on = s.provider ? ` on ${s.provider}` : ''
  if (s.phase === 'connecting') return { text: `connecting to the console of ${s.machine}${on}…`, tone: 'muted' }
  if (s.phase === 'attached')
    return { text: `${s.machine}${on} · ${s.cols}×${s.rows} · live, ${DETACH_HINT} detaches`, tone: 'ok' }
  if (s.phase === 'idle' || !s.reason) {
    if (s.state && s.state !== 'started') return { text: notStarted(s.machine, s.state), tone: 'warn' }
    return { text: `console of ${s.machine}${on}`, tone: 'muted' }
  }
  const { code, message } = s.reason
  switch (code) {
    case CONSOLE_TAKEN_OVER:
      return { text: 'another viewer took over this console (one at a time); r takes it back', tone: 'warn' }
    case CONSOLE_VM_STOPPED:
    case CONSOLE_VM_SUSPENDED:
    case CONSOLE_VM_MIGRATING:
    case CONSOLE_VM_GONE:
    case CONSOLE_ENDED:
    case CONSOLE_HUNG_UP:
    case CONSOLE_SHUTDOWN:
      return { text: message, tone: 'warn' }
    case MARKET_PROVIDER_OFFLINE:
      return {
        text:
          `provider${s.provider ? ` ${s.provider}` : ''} is offline: its console comes back with its node; ` +
          `r retries`,
        tone: 'error',
      }
    case NET_UNREACHABLE:
    case NET_TIMEOUT:
      return {
        text: `the provider node${s.provider ? ` of ${s.provider}` : ''} did not answer; r retries`,
        tone: 'error',
      }
    case NET_CONNECTION_CLOSED:
      return { text: `the connection to ${s.provider ?? 'the provider'} closed; r reconnects`, tone: 'error' }
    case MARKET_ACTION_NOT_ALLOWED:
      return {
        text: s.state && s.state !== 'started' ? notStarted(s.machine, s.state) : `${s.machine}: ${message}`,
        tone: 'warn',
      }
    case TUI_CONSOLE_UNAVAILABLE:
      return { text: message, tone: 'error' }
    default:
      return { text: `${message}; r retries`, tone: 'error' }
  }
}

function notStarted(machine: string, state: string): string {
  if (state === 'suspended') return `${machine} is suspended: resume it (Machines, r) to view its console`
  if (state === 'migrating') return `${machine} is migrating: its console comes back when the migration ends`
  return `${machine} is ${state}: a console needs it started (Machines, s)`
}
