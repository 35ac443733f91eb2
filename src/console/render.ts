// Turns a headless xterm's buffer back into bytes that repaint a viewer's terminal: the last lines
// of scrollback, then the screen with its colours and attributes, then the cursor where the guest
// left it. We render it ourselves because @xterm/addon-serialize is not a dependency; a viewer who
// attaches must see the current screen at once, not a blank one waiting for the guest to redraw.
import type { Terminal, IBufferCell, IBufferLine } from '@xterm/headless'

export interface RenderOptions {
  /** How many scrollback lines to send above the screen (they scroll into the viewer's own history). */
  history?: number
}

export const DEFAULT_RENDER_HISTORY = 200

export function renderScreen(term: Terminal, opts: RenderOptions = {}): string {
  const buf = term.buffer.active
  // The alternate buffer (full-screen programs) has no scrollback worth replaying.
  const history = buf.type === 'alternate' ? 0 : Math.min(opts.history ?? DEFAULT_RENDER_HISTORY, buf.baseY)
  const first = buf.baseY - history
  const last = buf.baseY + term.rows - 1
  // Reset attributes, home, clear: the viewer's screen may hold anything (a previous session, a shell).
  let out = '\x1b[0m\x1b[H\x1b[2J'
  if (buf.type === 'alternate') out += '\x1b[?1049h\x1b[H\x1b[2J'
  const cell = buf.getNullCell()
  for (let y = first; y <= last; y++) {
    const line = buf.getLine(y)
    if (line) out += renderLine(line, term.cols, cell)
    out += '\x1b[0m'
    if (y < last) out += '\r\n'
  }
  out += `\x1b[${buf.cursorY + 1};${buf.cursorX + 1}H`
  // Keyboard modes change what the arrow keys send; the guest set them once and will not say again.
  if (term.modes.applicationCursorKeysMode) out += '\x1b[?1h'
  if (term.modes.applicationKeypadMode) out += '\x1b='
  if (term.modes.bracketedPasteMode) out += '\x1b[?2004h'
  return out
}

function renderLine(line: IBufferLine, cols: number, cell: IBufferCell): string {
  // Trailing cells that are blank on the default background print nothing: the clear did that.
  let end = Math.min(line.length, cols)
  while (end > 0) {
    line.getCell(end - 1, cell)
    if (cell.getChars() !== '' || !cell.isBgDefault() || cell.isInverse()) break
    end--
  }
  let out = ''
  let sgr = ''
  for (let x = 0; x < end; x++) {
    line.getCell(x, cell)
    if (cell.getWidth() === 0) continue // the right half of a wide character
    const next = sgrOf(cell)
    if (next !== sgr) {
      out += `\x1b[0${next}m`
      sgr = next
    }
    out += cell.getChars() || ' '
  }
  return out
}

/** The SGR parameters (each prefixed with ';') that select this cell's look, '' for the default. */
function sgrOf(c: IBufferCell): string {
  let s = ''
  if (c.isBold()) s += ';1'
  if (c.isDim()) s += ';2'
  if (c.isItalic()) s += ';3'
  if (c.isUnderline()) s += ';4'
  if (c.isBlink()) s += ';5'
  if (c.isInverse()) s += ';7'
  if (c.isInvisible()) s += ';8'
  if (c.isStrikethrough()) s += ';9'
  s += color(c.isFgDefault(), c.isFgPalette(), c.isFgRGB(), c.getFgColor(), 30, 90, 38)
  s += color(c.isBgDefault(), c.isBgPalette(), c.isBgRGB(), c.getBgColor(), 40, 100, 48)
  return s
}

function color(
  isDefault: boolean,
  palette: boolean,
  rgb: boolean,
  v: number,
  base: number,
  bright: number,
  ext: number,
): string {
  if (isDefault) return ''
  if (palette) {
    if (v < 8) return `;${base + v}`
    if (v < 16) return `;${bright + v - 8}`
    return `;${ext};5;${v}`
  }
  if (rgb) return `;${ext};2;${(v >> 16) & 255};${(v >> 8) & 255};${v & 255}`
  return ''
}
