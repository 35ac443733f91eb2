// The frame every view lives in: it owns the key dispatch, the hint bar, the status line and the
// confirmation prompt. Views talk to it through these hooks.
import { createContext, useContext, useEffect, useLayoutEffect } from 'react'
import type { KeyAction } from '../keys.ts'

export type StatusTone = 'info' | 'ok' | 'error'

export interface FrameApi {
  readOnly: boolean
  /** True while no form holds the keyboard and no question is pending: lists may move. */
  inputFree: boolean
  confirming: boolean
  flash(message: string, tone?: StatusTone): void
  /** Confirm-if-dangerous, run, flash the error if it fails. */
  runAction(a: KeyAction): void
  setViewActions(actions: KeyAction[]): void
  /**
   * A form takes the keyboard (+1) or gives it back (-1); `hint` replaces the hint bar meanwhile.
   * `raw` (a live console): even Ctrl-C belongs to the capturer.
   */
  capture(delta: 1 | -1, hint?: string, raw?: boolean): void
}

const noop = () => {}
export const FrameContext = createContext<FrameApi>({
  readOnly: false,
  inputFree: true,
  confirming: false,
  flash: noop,
  runAction: (a) => {
    void a.run()
  },
  setViewActions: noop,
  capture: noop,
})

export function useFrame(): FrameApi {
  return useContext(FrameContext)
}

/**
 * Publish this view's key actions (hint bar + dispatch); the latest closures are always the ones run.
 * `null` = a sub-screen of this view publishes instead (child layout effects run before the parent's).
 */
export function useViewActions(actions: KeyAction[] | null): void {
  const frame = useFrame()
  useLayoutEffect(() => {
    if (actions) frame.setViewActions(actions)
  })
  // A layout cleanup runs before the next screen's layout effect publishes, so it never clobbers it.
  useLayoutEffect(() => () => frame.setViewActions([]), [])
}

/** While mounted (and `active`), a form owns the keyboard; `raw`: Ctrl-C too (a live console). */
export function useCapture(active: boolean, hint?: string, raw = false): void {
  const frame = useFrame()
  useEffect(() => {
    if (!active) return
    frame.capture(1, hint, raw)
    return () => frame.capture(-1, undefined, raw)
  }, [active, hint, raw])
}
