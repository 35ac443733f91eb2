// Console view, pure parts: a screen (what a headless xterm shows: lines of styled runs and a
// cursor) → rows of Ink text runs. readScreen() is the only part that looks at an xterm. Keys → bytes
// are in console-keys.ts, the session's state → one status line in console-status.ts.
import type { Terminal, IBufferCell } from '@xterm/headless'

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
