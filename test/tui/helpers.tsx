// View-test helpers: mount a view inside the Frame (hint bar, status line, confirmations) and type.
import React from 'react'
import { render } from 'ink-testing-library'
import { Frame } from '../../src/tui/Frame.tsx'
import { ThemeContext } from '../../src/tui/theme.ts'

export const KEY = {
  up: '\u001B[A',
  down: '\u001B[B',
  left: '\u001B[D',
  right: '\u001B[C',
  enter: '\r',
  esc: '\u001B',
  tab: '\t',
  ctrlS: '\u0013',
  ctrlN: '\u000E',
}

export const tick = (ms = 30) => new Promise((r) => setTimeout(r, ms))

export function mount(node: React.ReactElement, opts: { readOnly?: boolean; width?: number } = {}) {
  const width = opts.width ?? 80
  const wrap = (n: React.ReactElement) => (
    <ThemeContext.Provider value={{ noColor: true }}>
      <Frame width={width} readOnly={opts.readOnly}>
        {n}
      </Frame>
    </ThemeContext.Provider>
  )
  const inst = render(wrap(node))
  const frame = () => inst.lastFrame() ?? ''
  const press = async (...keys: string[]) => {
    for (const k of keys) {
      inst.stdin.write(k)
      await tick(k === KEY.esc ? 60 : 25)
    }
  }
  const type = async (text: string) => {
    for (const ch of text) await press(ch)
  }
  /** Same view, new props (the records changed): the frame and its state stay. */
  const rerender = (n: React.ReactElement) => inst.rerender(wrap(n))
  return { ...inst, rerender, frame, press, type }
}

/** Wait until the frame satisfies `pred` (live updates, promises). */
export async function until(frame: () => string, pred: (f: string) => boolean, ms = 2000): Promise<string> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (pred(frame())) return frame()
    await tick(15)
  }
  throw new Error(`timed out; last frame:\n${frame()}`)
}
