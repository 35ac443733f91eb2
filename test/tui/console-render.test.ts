// The Console view's pure parts: screen → rows (cursor, cut, colours), keys → bytes, status lines;
// and readScreen over a real headless xterm.
import { describe, expect, it } from 'vitest'
import xterm from '@xterm/headless'
import {
  consoleRows,
  paletteColor,
  plainScreen,
  readScreen,
  rowText,
  type Screen,
} from '../../src/tui/render/console.ts'
import { keyBytes } from '../../src/tui/render/console-keys.ts'
import { consoleStatus } from '../../src/tui/render/console-status.ts'

const write = (term: InstanceType<typeof xterm.Terminal>, s: string) => new Promise<void>((r) => term.write(s, r))

describe('consoleRows', () => {
  it('one row per screen row, empty ones as a space, the cursor cell inverse', () => {
    const rows = consoleRows(plainScreen(['/ # ls', '', 'bin  etc'], 20, 4, { x: 6, y: 0, visible: true }))
    expect(rows.map(rowText)).toEqual(['/ # ls ', ' ', 'bin  etc', ' '])
    expect(rows[0]).toEqual([
      { text: '/ # ls', style: {} },
      { text: ' ', style: { inverse: true } },
    ])
  })
  it('splits a run where the cursor sits, inverting what is there', () => {
    const rows = consoleRows(plainScreen(['abcdef'], 10, 1, { x: 2, y: 0, visible: true }))
    expect(rows[0]).toEqual([
      { text: 'ab', style: {} },
      { text: 'c', style: { inverse: true } },
      { text: 'def', style: {} },
    ])
    const past = consoleRows(plainScreen(['ab'], 10, 1, { x: 5, y: 0, visible: true }))
    expect(rowText(past[0])).toBe('ab    ')
  })
  it('no cursor when hidden, or when the session is not live', () => {
    const s = plainScreen(['x'], 10, 1, { x: 0, y: 0, visible: false })
    expect(consoleRows(s)[0]).toEqual([{ text: 'x', style: {} }])
    expect(consoleRows({ ...s, cursor: { ...s.cursor, visible: true } }, { cursor: false })[0]).toEqual([
      { text: 'x', style: {} },
    ])
  })
  it('cuts rows at the screen width (code points, not UTF-16 units)', () => {
    const s: Screen = {
      cols: 4,
      rows: 1,
      lines: [
        [
          { text: 'ab', style: { bold: true } },
          { text: '😀cdef', style: {} },
        ],
      ],
      cursor: { x: 0, y: 0, visible: false },
    }
    expect(consoleRows(s)[0]).toEqual([
      { text: 'ab', style: { bold: true } },
      { text: '😀c', style: {} },
    ])
  })
  it('NO_COLOR drops colours but keeps bold and inverse, merging what then looks the same', () => {
    const s: Screen = {
      cols: 10,
      rows: 1,
      lines: [
        [
          { text: 'a', style: { fg: 'red' } },
          { text: 'b', style: { fg: 'blue' } },
          { text: 'c', style: { bg: 'blue', inverse: true } },
        ],
      ],
      cursor: { x: 0, y: 0, visible: false },
    }
    expect(consoleRows(s, { noColor: true })[0]).toEqual([
      { text: 'ab', style: {} },
      { text: 'c', style: { inverse: true } },
    ])
  })
})

describe('readScreen', () => {
  it('reads the visible rows with their styles, the cursor, trailing blanks dropped', async () => {
    const term = new xterm.Terminal({ cols: 20, rows: 3, allowProposedApi: true })
    await write(term, 'plain \x1b[1;31mbold red\x1b[0m   \r\n\x1b[44m  \x1b[0m\r\nend')
    const s = readScreen(term)
    expect(s.lines[0]).toEqual([
      { text: 'plain ', style: {} },
      { text: 'bold red', style: { fg: 'red', bold: true } },
    ])
    expect(s.lines[1]).toEqual([{ text: '  ', style: { bg: 'blue' } }])
    expect(s.cursor).toEqual({ x: 3, y: 2, visible: true })
    await write(term, '\r\nscrolled')
    expect(readScreen(term).lines.map((l) => l.map((r) => r.text).join(''))).toEqual(['  ', 'end', 'scrolled'])
    term.dispose()
  })
  it('wide characters take one entry, 256 colours become hex', async () => {
    const term = new xterm.Terminal({ cols: 10, rows: 1, allowProposedApi: true })
    await write(term, '漢字\x1b[38;5;196mX')
    expect(readScreen(term).lines[0]).toEqual([
      { text: '漢字', style: {} },
      { text: 'X', style: { fg: '#ff0000' } },
    ])
    expect(paletteColor(232)).toBe('#080808')
    term.dispose()
  })
})

describe('keyBytes', () => {
  const k = (input: string, key: object = {}, modes = {}) => keyBytes(input, key, modes)
  it('sends what a terminal sends', () => {
    expect(k('', { return: true })).toBe('\r')
    expect(k('', { delete: true })).toBe('\x7f') // ink reports the Backspace key (0x7f) as delete
    expect(k('', { backspace: true })).toBe('\x7f')
    expect(k('', { tab: true })).toBe('\t')
    expect(k('', { tab: true, shift: true })).toBe('\x1b[Z')
    expect(k('', { escape: true, meta: true })).toBe('\x1b')
    expect(k('', { upArrow: true })).toBe('\x1b[A')
    expect(k('', { downArrow: true })).toBe('\x1b[B')
    expect(k('', { rightArrow: true })).toBe('\x1b[C')
    expect(k('', { leftArrow: true })).toBe('\x1b[D')
    expect(k('', { upArrow: true }, { applicationCursorKeys: true })).toBe('\x1bOA')
    expect(k('', { leftArrow: true, ctrl: true })).toBe('\x1b[1;5D')
    expect(k('', { pageUp: true })).toBe('\x1b[5~')
    expect(k('c', { ctrl: true })).toBe('\x03')
    expect(k('d', { ctrl: true })).toBe('\x04')
    expect(k('x', { meta: true })).toBe('\x1bx')
    expect(k('q')).toBe('q')
    expect(k('echo hi\r')).toBe('echo hi\r') // a paste
    expect(k('')).toBe('')
  })
})

describe('consoleStatus', () => {
  const base = { machine: 'web', provider: 'alpha', state: 'started' }
  it('says what happens and what to do, one line each', () => {
    expect(consoleStatus({ ...base, phase: 'connecting' }).text).toBe('connecting to the console of web on alpha…')
    expect(consoleStatus({ ...base, phase: 'attached', cols: 80, rows: 18 }).text).toBe(
      'web on alpha · 80×18 · live, ctrl+] detaches',
    )
    expect(
      consoleStatus({ ...base, phase: 'ended', reason: { code: 'HV_CONSOLE_TAKEN_OVER', message: 'x' } }).text,
    ).toMatch(/another viewer took over.*r takes it back/)
    expect(
      consoleStatus({
        ...base,
        phase: 'ended',
        reason: {
          code: 'HV_CONSOLE_VM_SUSPENDED',
          message: 'machine vm1 was suspended; resume it to view its console again',
        },
      }),
    ).toEqual({ text: 'machine vm1 was suspended; resume it to view its console again', tone: 'warn' })
    expect(
      consoleStatus({ ...base, phase: 'failed', reason: { code: 'MARKET_PROVIDER_OFFLINE', message: 'x' } }).text,
    ).toMatch(/^provider alpha is offline/)
    expect(
      consoleStatus({ ...base, phase: 'failed', reason: { code: 'NODE_UNREACHABLE', message: 'x' } }).text,
    ).toMatch(/did not answer; r retries/)
    expect(consoleStatus({ ...base, state: 'stopped', phase: 'idle' })).toEqual({
      text: 'web is stopped: a console needs it started (Machines, s)',
      tone: 'warn',
    })
    expect(consoleStatus({ ...base, state: 'migrating', phase: 'idle' }).text).toMatch(
      /migrating: its console comes back/,
    )
    expect(consoleStatus({ ...base, phase: 'failed', reason: { code: 'WHATEVER', message: 'it broke' } }).text).toBe(
      'it broke; r retries',
    )
  })
})
