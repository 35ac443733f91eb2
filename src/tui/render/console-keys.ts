// Console view, keys: what ink parsed for a key → the bytes a terminal would send to the guest, and
// the one key the view keeps for itself (detach).

/** Ctrl-], as in telnet, virsh console and `virtuoso console`. */
export const DETACH_KEY = '\x1d'
export const DETACH_HINT = 'ctrl+]'

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
