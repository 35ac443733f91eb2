// The picture's pure part: a frame of pixels → rows of half blocks, in colour and without.
import { describe, expect, it } from 'vitest'
import { pictureRows, pictureStatus } from '../../src/tui/render/picture.ts'
import { rowText } from '../../src/tui/render/console.ts'

/** A frame from rows of '#' (white) and '.' (black). */
function frameOf(rows: string[]) {
  const width = rows[0].length
  const rgb = Buffer.alloc(width * rows.length * 3)
  rows.forEach((r, y) =>
    [...r].forEach((ch, x) => rgb.fill(ch === '#' ? 255 : 0, (y * width + x) * 3, (y * width + x + 1) * 3)),
  )
  return { width, height: rows.length, rgb }
}

describe('pictureRows', () => {
  it('without colour: two pixels per cell, lit against the middle of the brightness range', () => {
    const rows = pictureRows(frameOf(['#.#.', '##..', '....']), { noColor: true })
    expect(rows.map(rowText)).toEqual(['█▄▀ ', '    '])
  })

  it('a flat frame lights nothing', () => {
    expect(pictureRows(frameOf(['####', '####']), { noColor: true }).map(rowText)).toEqual(['    '])
  })

  it('in colour: ▀ in the top pixel on the bottom pixel, equal neighbours in one run', () => {
    const rows = pictureRows(frameOf(['#..', '#..']))
    expect(rows).toEqual([
      [
        { text: '▀', style: { fg: '#ffffff', bg: '#ffffff' } },
        { text: '▀▀', style: { fg: '#000000', bg: '#000000' } },
      ],
    ])
  })

  it('the status line names the picture size and counts frames; an end reads as on the serial console', () => {
    const base = { machine: 'web', provider: 'pm1', state: 'started' }
    expect(pictureStatus({ ...base, phase: 'attached', frame: { width: 80, height: 46 }, count: 7 }).text).toBe(
      'screen of web on pm1 · 80×46 px · frame 7 · s: serial text',
    )
    const ended = pictureStatus({
      ...base,
      phase: 'ended',
      frame: null,
      count: 0,
      reason: { code: 'HV_CONSOLE_VM_STOPPED', message: 'machine web stopped' },
    })
    expect(ended).toEqual({ text: 'machine web stopped', tone: 'warn' })
  })
})
