// The headless xterm behind the Console view: made once at the view's size, read back into a Screen
// at most `fps` times a second after output arrives, whatever the rate of output (a flood of bytes
// costs one read per frame, not one per chunk). The session that feeds it is use-console.ts.
import { useCallback, useRef, useState } from 'react'
import xterm from '@xterm/headless'
import type { Terminal } from '@xterm/headless'
import { readScreen, type Screen } from '../render/console.ts'

/** Scrollback the view never shows; the provider's repaint scrolls its history through it. */
const SCROLLBACK = 100

export interface ConsoleTerminal {
  term: Terminal
  screen: Screen
  /** Read the screen back within one frame (output arrived, the size changed, the session ended). */
  draw(): void
  /** A fresh screen for a new session: the provider's repaint draws it all again. */
  reset(): void
  /** Stop drawing and free the terminal: the view goes. */
  dispose(): void
}

export function useTerminal(cols: number, rows: number, fps: number): ConsoleTerminal {
  const ref = useRef<{ term: Terminal; cursorVisible: boolean } | null>(null)
  if (!ref.current) ref.current = makeTerminal(cols, rows)
  const t = ref.current
  const [screen, setScreen] = useState<Screen>(() => readScreen(t.term))
  const timer = useRef<NodeJS.Timeout | null>(null)
  const live = useRef(true)

  const draw = useCallback(() => {
    if (timer.current || !live.current) return
    timer.current = setTimeout(
      () => {
        timer.current = null
        if (live.current) setScreen(readScreen(t.term, t.cursorVisible))
      },
      Math.round(1000 / fps),
    )
    timer.current.unref?.()
  }, [fps])

  return {
    term: t.term,
    screen,
    draw,
    reset: () => {
      t.term.reset()
      t.cursorVisible = true
    },
    dispose: () => {
      live.current = false
      if (timer.current) clearTimeout(timer.current)
      t.term.dispose()
    },
  }
}

function makeTerminal(cols: number, rows: number): { term: Terminal; cursorVisible: boolean } {
  const term = new xterm.Terminal({ cols, rows, scrollback: SCROLLBACK, allowProposedApi: true })
  const state = { term, cursorVisible: true }
  // DECTCEM (CSI ? 25 h/l) is not in the public modes: watch for it, then let xterm handle it too.
  const watch = (visible: boolean) => (params: (number | number[])[]) => {
    if (params.some((p) => p === 25)) state.cursorVisible = visible
    return false
  }
  term.parser.registerCsiHandler({ prefix: '?', final: 'h' }, watch(true))
  term.parser.registerCsiHandler({ prefix: '?', final: 'l' }, watch(false))
  return state
}
