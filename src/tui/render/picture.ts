// Console view, the machine's screen as a picture: a frame from the provider (src/console/frame.ts,
// already scaled to cols × 2·rows pixels) → rows of Ink runs, one cell per two pixels stacked. In
// colour a cell is an upper half block '▀' in the top pixel's colour on the bottom pixel's colour.
// Without colour (NO_COLOR) each pixel is lit or not, against the middle of the frame's brightness
// range, and a cell is ' ', '▀', '▄' or '█': text on the guest's VGA screen stays readable as shapes.
import type { Frame } from '../../console/frame.ts'
import type { CellStyle, Run } from './console.ts'
import { consoleStatus, type ConsoleStatusInput, type StatusTone } from './console-status.ts'

export const UPPER = '▀'
export const LOWER = '▄'
export const FULL = '█'

/** Ctrl-\ switches between the serial text and the picture (a live serial console takes every other key). */
export const SCREEN_KEY = '\x1c'
export const SCREEN_HINT = 'ctrl+\\'

/** Below this range of brightness a frame is one flat colour: nothing is lit. */
const MIN_CONTRAST = 16

const hex = (rgb: Buffer, i: number) =>
  '#' + [rgb[i], rgb[i + 1], rgb[i + 2]].map((c) => c.toString(16).padStart(2, '0')).join('')

/** Rec. 601 luma, 0..255. */
const luma = (rgb: Buffer, i: number) => 0.299 * rgb[i] + 0.587 * rgb[i + 1] + 0.114 * rgb[i + 2]

export function pictureRows(frame: Frame, opts: { noColor?: boolean } = {}): Run[][] {
  const rows: Run[][] = []
  const cut = opts.noColor ? threshold(frame) : 0
  for (let y = 0; y < frame.height; y += 2) {
    const runs: Run[] = []
    for (let x = 0; x < frame.width; x++) {
      const top = (y * frame.width + x) * 3
      const bottom = y + 1 < frame.height ? top + frame.width * 3 : -1
      if (opts.noColor) {
        const t = luma(frame.rgb, top) > cut
        const b = bottom >= 0 && luma(frame.rgb, bottom) > cut
        push(runs, t && b ? FULL : t ? UPPER : b ? LOWER : ' ', {})
      } else {
        const style: CellStyle = { fg: hex(frame.rgb, top) }
        if (bottom >= 0) style.bg = hex(frame.rgb, bottom)
        push(runs, UPPER, style)
      }
    }
    rows.push(runs)
  }
  return rows
}

/** The brightness a pixel must exceed to be lit; above the brightest pixel when the frame is flat. */
function threshold(f: Frame): number {
  let lo = 255
  let hi = 0
  for (let i = 0; i < f.rgb.length; i += 3) {
    const l = luma(f.rgb, i)
    if (l < lo) lo = l
    if (l > hi) hi = l
  }
  return hi - lo < MIN_CONTRAST ? 256 : (lo + hi) / 2
}

function push(runs: Run[], text: string, style: CellStyle): void {
  const last = runs[runs.length - 1]
  if (last && last.style.fg === style.fg && last.style.bg === style.bg) last.text += text
  else runs.push({ text, style })
}

/** The status line while the view shows the picture; the reasons a session ends read as on the serial console. */
export function pictureStatus(
  s: ConsoleStatusInput & { frame: { width: number; height: number } | null; count: number },
): { text: string; tone: StatusTone } {
  if (s.phase !== 'attached') return consoleStatus(s)
  const on = s.provider ? ` on ${s.provider}` : ''
  const size = s.frame ? `${s.frame.width}×${s.frame.height} px` : 'waiting for the first frame'
  return { text: `screen of ${s.machine}${on} · ${size} · frame ${s.count} · s: serial text`, tone: 'ok' }
}
