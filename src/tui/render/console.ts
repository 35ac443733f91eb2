// Console view, pure parts: a screen (what a headless xterm shows: lines of styled runs and a
// cursor) → rows of Ink text runs; keys as ink parses them → the bytes a terminal would send; the
// session's state → one status line. readScreen() is the only part that looks at an xterm.
import type { Terminal, IBufferCell } from '@xterm/headless'
import { TUI_CONSOLE_UNAVAILABLE } from '../errors.ts'

/** Ctrl-], as in telnet, virsh console and `virtuoso console`. */
export const DETACH_KEY = '\x1d'
export const DETACH_HINT = 'ctrl+]'

export interface CellStyle {
  fg?: string
  bg?: string
  bold?: boolean
  dim?: boolean
  italic?: boolean
  underline?: boolean
  inverse?: boolean
  strikethrough?: boolean
}

export interface Run {
  text: string
  style: CellStyle
}

export interface Screen {
  cols: number
  rows: number
  /** One entry per visible row (top to bottom); trailing default blanks left out. */
  lines: Run[][]
  cursor: { x: number; y: number; visible: boolean }
}

/** The 16 ANSI colours as Ink (chalk) names; 16..255 and RGB become hex. */
const ANSI16 = [
  'black',
  'red',
  'green',
  'yellow',
  'blue',
  'magenta',
  'cyan',
  'white',
  'gray',
  'redBright',
  'greenBright',
  'yellowBright',
  'blueBright',
  'magentaBright',
  'cyanBright',
  'whiteBright',
]

export function paletteColor(n: number): string {
  if (n < 16) return ANSI16[n]
  if (n >= 232) {
    const v = 8 + (n - 232) * 10
    return hex(v, v, v)
  }
  const i = n - 16
  const level = (c: number) => (c === 0 ? 0 : 55 + c * 40)
  return hex(level(Math.floor(i / 36)), level(Math.floor(i / 6) % 6), level(i % 6))
}

const hex = (r: number, g: number, b: number) => '#' + [r, g, b].map((c) => c.toString(16).padStart(2, '0')).join('')

function colorOf(isDefault: boolean, palette: boolean, rgb: boolean, v: number): string | undefined {
  if (isDefault) return undefined
  if (palette) return paletteColor(v)
  if (rgb) return hex((v >> 16) & 255, (v >> 8) & 255, v & 255)
  return undefined
}

function styleOf(c: IBufferCell): CellStyle {
  const s: CellStyle = {}
  const fg = colorOf(c.isFgDefault(), c.isFgPalette(), c.isFgRGB(), c.getFgColor())
  const bg = colorOf(c.isBgDefault(), c.isBgPalette(), c.isBgRGB(), c.getBgColor())
  if (fg) s.fg = fg
  if (bg) s.bg = bg
  if (c.isBold()) s.bold = true
  if (c.isDim()) s.dim = true
  if (c.isItalic()) s.italic = true
  if (c.isUnderline()) s.underline = true
  if (c.isInverse()) s.inverse = true
  if (c.isStrikethrough()) s.strikethrough = true
  return s
}

export function sameStyle(a: CellStyle, b: CellStyle): boolean {
  return (
    a.fg === b.fg &&
    a.bg === b.bg &&
    !!a.bold === !!b.bold &&
    !!a.dim === !!b.dim &&
    !!a.italic === !!b.italic &&
    !!a.underline === !!b.underline &&
    !!a.inverse === !!b.inverse &&
    !!a.strikethrough === !!b.strikethrough
  )
}

const isPlain = (s: CellStyle) => !s.bg && !s.inverse && !s.underline && !s.strikethrough

/** What the terminal shows now: its visible rows (not the scrollback) and the cursor. */
export function readScreen(term: Terminal, cursorVisible = true): Screen {
  const buf = term.buffer.active
  const cell = buf.getNullCell()
  const lines: Run[][] = []
  for (let y = 0; y < term.rows; y++) {
    const line = buf.getLine(buf.viewportY + y)
    const runs: Run[] = []
    if (line) {
      let end = Math.min(line.length, term.cols)
      while (end > 0) {
        line.getCell(end - 1, cell)
        if (cell.getChars() !== '' && cell.getChars() !== ' ') break
        if (!isPlain(styleOf(cell))) break
        end--
      }
      for (let x = 0; x < end; x++) {
        line.getCell(x, cell)
        if (cell.getWidth() === 0) continue // the right half of a wide character
        pushRun(runs, cell.getChars() || ' ', styleOf(cell))
      }
    }
    lines.push(runs)
  }
  return { cols: term.cols, rows: term.rows, lines, cursor: { x: buf.cursorX, y: buf.cursorY, visible: cursorVisible } }
}

function pushRun(runs: Run[], text: string, style: CellStyle): void {
  const last = runs[runs.length - 1]
  if (last && sameStyle(last.style, style)) last.text += text
  else runs.push({ text, style })
}

/** A screen of plain text (tests, placeholders). */
export function plainScreen(
  lines: string[],
  cols: number,
  rows: number,
  cursor = { x: 0, y: 0, visible: true },
): Screen {
  const out: Run[][] = []
  for (let y = 0; y < rows; y++) out.push(lines[y] ? [{ text: lines[y], style: {} }] : [])
  return { cols, rows, lines: out, cursor }
}

export interface RowOptions {
  /** NO_COLOR: drop colours, keep bold/inverse/underline (they carry meaning, e.g. a selection). */
  noColor?: boolean
  /** Draw the cursor (inverse cell); off while the session is not live. */
  cursor?: boolean
}

/**
 * Rows for Ink: one Run[] per screen row, cut at `cols`, the cursor's cell drawn inverse, an empty
 * row as one space (an empty <Text> would take no line).
 */
export function consoleRows(screen: Screen, opts: RowOptions = {}): Run[][] {
  const rows: Run[][] = []
  for (let y = 0; y < screen.rows; y++) {
    let runs = cut(screen.lines[y] ?? [], screen.cols)
    if (opts.noColor) runs = merge(runs.map((r) => ({ text: r.text, style: withoutColor(r.style) })))
    if (opts.cursor !== false && screen.cursor.visible && screen.cursor.y === y && screen.cursor.x < screen.cols)
      runs = withCursor(runs, screen.cursor.x)
    rows.push(runs.length ? runs : [{ text: ' ', style: {} }])
  }
  return rows
}

function withoutColor(s: CellStyle): CellStyle {
  const { fg: _fg, bg: _bg, ...rest } = s
  return rest
}

function merge(runs: Run[]): Run[] {
  const out: Run[] = []
  for (const r of runs) if (r.text) pushRun(out, r.text, r.style)
  return out
}

/** Runs cut to `cols` characters (code points: the screen holds one per cell). */
function cut(runs: Run[], cols: number): Run[] {
  const out: Run[] = []
  let left = cols
  for (const r of runs) {
    if (left <= 0) break
    const chars = [...r.text]
    const text = chars.length > left ? chars.slice(0, left).join('') : r.text
    left -= Math.min(chars.length, left)
    out.push({ text, style: r.style })
  }
  return out
}

function withCursor(runs: Run[], x: number): Run[] {
  const out: Run[] = []
  let col = 0
  let placed = false
  for (const r of runs) {
    const chars = [...r.text]
    if (placed || x < col || x >= col + chars.length) {
      out.push(r)
      col += chars.length
      continue
    }
    const at = x - col
    if (at > 0) out.push({ text: chars.slice(0, at).join(''), style: r.style })
    out.push({ text: chars[at], style: { ...r.style, inverse: !r.style.inverse } })
    if (at + 1 < chars.length) out.push({ text: chars.slice(at + 1).join(''), style: r.style })
    col += chars.length
    placed = true
  }
  if (!placed) {
    if (x > col) out.push({ text: ' '.repeat(x - col), style: {} })
    out.push({ text: ' ', style: { inverse: true } })
  }
  return out
}

/** The row's text without styles (tests, captures). */
export function rowText(runs: Run[]): string {
  return runs.map((r) => r.text).join('')
}

/** What ink's useInput reports for a key (the parts this needs). */
export interface InkKey {
  upArrow?: boolean
  downArrow?: boolean
  leftArrow?: boolean
  rightArrow?: boolean
  pageUp?: boolean
  pageDown?: boolean
  home?: boolean
  end?: boolean
  return?: boolean
  escape?: boolean
  tab?: boolean
  backspace?: boolean
  delete?: boolean
  ctrl?: boolean
  shift?: boolean
  meta?: boolean
}

export interface KeyModes {
  /** DECCKM as the guest set it: arrows send ESC O x instead of ESC [ x. */
  applicationCursorKeys?: boolean
}

/**
 * The bytes a terminal sends for a key, from what ink parsed ('' = nothing to send). Ink folds the
 * Delete key into backspace and drops function keys; everything else round-trips, and a paste
 * (several characters in one input) goes through as typed.
 */
export function keyBytes(input: string, key: InkKey, modes: KeyModes = {}): string {
  const mod = 1 + (key.shift ? 1 : 0) + (key.meta && !key.escape ? 2 : 0) + (key.ctrl ? 4 : 0)
  const cursorKey = (c: string) =>
    mod > 1 ? `\x1b[1;${mod}${c}` : modes.applicationCursorKeys ? `\x1bO${c}` : `\x1b[${c}`
  if (key.upArrow) return cursorKey('A')
  if (key.downArrow) return cursorKey('B')
  if (key.rightArrow) return cursorKey('C')
  if (key.leftArrow) return cursorKey('D')
  if (key.home) return cursorKey('H')
  if (key.end) return cursorKey('F')
  if (key.pageUp) return '\x1b[5~'
  if (key.pageDown) return '\x1b[6~'
  if (key.return) return key.meta ? '\x1b\r' : '\r'
  if (key.escape) return '\x1b'
  if (key.tab) return key.shift ? '\x1b[Z' : '\t'
  if (key.backspace || key.delete) return key.meta ? '\x1b\x7f' : '\x7f'
  if (!input) return ''
  if (key.ctrl && input.length === 1) {
    const c = input.toLowerCase().charCodeAt(0)
    if (c >= 0x61 && c <= 0x7a) return String.fromCharCode(c - 0x60)
    if (input === ' ' || input === '@' || input === '2') return '\x00'
    return input
  }
  return key.meta ? `\x1b${input}` : input
}

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
    case 'HV_CONSOLE_TAKEN_OVER':
      return { text: 'another viewer took over this console (one at a time); r takes it back', tone: 'warn' }
    case 'HV_CONSOLE_VM_STOPPED':
    case 'HV_CONSOLE_VM_SUSPENDED':
    case 'HV_CONSOLE_VM_MIGRATING':
    case 'HV_CONSOLE_VM_GONE':
    case 'HV_CONSOLE_ENDED':
    case 'HV_CONSOLE_HUNG_UP':
    case 'HV_CONSOLE_SHUTDOWN':
      return { text: message, tone: 'warn' }
    case 'MARKET_PROVIDER_OFFLINE':
      return {
        text:
          `provider${s.provider ? ` ${s.provider}` : ''} is offline: its console comes back with its node; ` +
          `r retries`,
        tone: 'error',
      }
    case 'NODE_UNREACHABLE':
    case 'NODE_TIMEOUT':
      return {
        text: `the provider node${s.provider ? ` of ${s.provider}` : ''} did not answer; r retries`,
        tone: 'error',
      }
    case 'NODE_CONNECTION_CLOSED':
      return { text: `the connection to ${s.provider ?? 'the provider'} closed; r reconnects`, tone: 'error' }
    case 'MARKET_ACTION_NOT_ALLOWED':
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
