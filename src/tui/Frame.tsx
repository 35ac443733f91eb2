// The frame around every view (k9s style): header, body, a status line that flashes errors instead
// of crashing, the confirmation prompt for dangerous actions, and the hint bar of key actions.
import React, { Component, useCallback, useMemo, useRef, useState, type ReactNode } from 'react'
import { Box, Text } from 'ink'
import { actionsSignature, confirmQuestion, findAction, hintLines, visibleActions, type KeyAction } from './keys.ts'
import { useKeys } from './hooks/use-keys.ts'
import { FrameContext, type FrameApi, type StatusTone } from './hooks/use-frame.ts'
import { useTone } from './theme.ts'

export const FLASH_MS = 6000

export interface FrameProps {
  readOnly?: boolean
  /** Keys that work in every view (switching views, quit). Listed after the view's own. */
  globalActions?: KeyAction[]
  width: number
  header?: ReactNode
  children: ReactNode
  /** Lines the hint bar may use. */
  hintRows?: number
  flashMs?: number
  /** Changing it clears a view's crash (the user switched views). */
  viewKey?: string
  /** Ctrl-C (the app quits on it itself, so a live console can send it to the machine instead). */
  onInterrupt?: () => void
}

interface Status {
  message: string
  tone: StatusTone
  id: number
}

export function errorMessage(err: unknown): string {
  if (err && typeof err === 'object' && 'message' in err) return String((err as any).message).split('\n')[0]
  return String(err)
}

export function Frame(props: FrameProps): React.JSX.Element {
  const tone = useTone()
  const readOnly = !!props.readOnly
  const [status, setStatus] = useState<Status | null>(null)
  const [pending, setPending] = useState<KeyAction | null>(null)
  const [captured, setCaptured] = useState(0)
  const [rawCaptured, setRawCaptured] = useState(0)
  const [captureHint, setCaptureHint] = useState<string | undefined>()
  const [, setHintVersion] = useState(0)
  const viewActions = useRef<KeyAction[]>([])
  const signature = useRef('')
  const flashTimer = useRef<NodeJS.Timeout | undefined>(undefined)
  const flashSeq = useRef(0)

  const flash = useCallback(
    (message: string, t: StatusTone = 'info') => {
      const id = ++flashSeq.current
      setStatus({ message, tone: t, id })
      clearTimeout(flashTimer.current)
      flashTimer.current = setTimeout(() => setStatus((s) => (s?.id === id ? null : s)), props.flashMs ?? FLASH_MS)
      flashTimer.current.unref?.()
    },
    [props.flashMs],
  )

  const execute = useCallback(
    (a: KeyAction) => {
      let result: unknown
      try {
        result = a.run()
      } catch (err) {
        flash(errorMessage(err), 'error')
        return
      }
      if (result && typeof (result as Promise<unknown>).then === 'function') {
        ;(result as Promise<unknown>).then(
          (r) => {
            if (typeof r === 'string' && r) flash(r, 'ok')
          },
          (err) => flash(errorMessage(err), 'error'),
        )
      } else if (typeof result === 'string' && result) flash(result, 'ok')
    },
    [flash],
  )

  const runAction = useCallback(
    (a: KeyAction) => {
      if (readOnly && (a.dangerous || a.mutates)) {
        flash('read-only: this session does not change the market', 'error')
        return
      }
      if (a.dangerous) setPending(a)
      else execute(a)
    },
    [readOnly, execute, flash],
  )

  const api: FrameApi = useMemo(
    () => ({
      readOnly,
      inputFree: captured === 0 && !pending,
      confirming: !!pending,
      flash,
      runAction,
      setViewActions: (actions) => {
        viewActions.current = actions
        const sig = actionsSignature(actions)
        if (sig !== signature.current) {
          signature.current = sig
          setHintVersion((v) => v + 1)
        }
      },
      capture: (delta, hint, raw) => {
        setCaptured((c) => Math.max(0, c + delta))
        if (raw) setRawCaptured((c) => Math.max(0, c + delta))
        setCaptureHint(delta > 0 ? hint : undefined)
      },
    }),
    [readOnly, captured, pending, flash, runAction],
  )

  useKeys((name) => {
    if (name === 'ctrl+c' && rawCaptured === 0 && props.onInterrupt) {
      props.onInterrupt()
      return
    }
    if (pending) {
      setPending(null)
      if (name === 'y' || name === 'Y') execute(pending)
      else flash('cancelled', 'info')
      return
    }
    if (captured > 0) return
    const a = findAction(viewActions.current, name, readOnly) ?? findAction(props.globalActions ?? [], name, readOnly)
    if (a) runAction(a)
  })

  const hints =
    captured > 0 && captureHint
      ? [captureHint]
      : hintLines(
          visibleActions([...viewActions.current, ...(props.globalActions ?? [])], readOnly),
          props.width,
          props.hintRows ?? 2,
        )

  return (
    <FrameContext.Provider value={api}>
      <Box flexDirection="column" width={props.width}>
        {props.header}
        <Box flexDirection="column" flexGrow={1}>
          <ErrorBoundary resetKey={props.viewKey}>{props.children}</ErrorBoundary>
        </Box>
        {pending ? (
          <Text color={tone('warn')} bold wrap="truncate">
            {confirmQuestion(pending)}
          </Text>
        ) : (
          <Text
            color={status ? tone(status.tone === 'error' ? 'error' : status.tone === 'ok' ? 'ok' : 'muted') : undefined}
            wrap="truncate"
          >
            {status ? status.message : ' '}
          </Text>
        )}
        {hints.map((h, i) => (
          <Text key={i} color={tone('accent')} wrap="truncate">
            {h}
          </Text>
        ))}
      </Box>
    </FrameContext.Provider>
  )
}

/** A view that throws shows its error in place of its body; the rest of the TUI keeps working. */
class ErrorBoundary extends Component<{ children: ReactNode; resetKey?: string }, { error: Error | null }> {
  override state: { error: Error | null } = { error: null }
  static getDerivedStateFromError(error: Error) {
    return { error }
  }
  override componentDidUpdate(prev: { resetKey?: string }) {
    if (prev.resetKey !== this.props.resetKey && this.state.error) this.setState({ error: null })
  }
  override render() {
    if (this.state.error)
      return <Text>this view failed: {errorMessage(this.state.error)} (switch views to continue)</Text>
    return this.props.children
  }
}
