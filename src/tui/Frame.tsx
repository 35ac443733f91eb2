// The frame around every view (k9s style): header, body, a status line that flashes errors instead
// of crashing, the confirmation prompt for dangerous actions, and the hint bar of key actions.
import React, { Component, useMemo, useRef, useState, type ReactNode } from 'react'
import { Box, Text } from 'ink'
import { actionsSignature, confirmQuestion, findAction, hintLines, visibleActions, type KeyAction } from './keys.ts'
import { useKeys } from './hooks/use-keys.ts'
import { FrameContext, type FrameApi } from './hooks/use-frame.ts'
import { useActionRunner, type Status } from './hooks/use-status.ts'
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

import { errorMessage } from './hooks/use-status.ts'

export { errorMessage }

export function Frame(props: FrameProps): React.JSX.Element {
  const tone = useTone()
  const readOnly = !!props.readOnly
  const [pending, setPending] = useState<KeyAction | null>(null)
  const [captured, setCaptured] = useState(0)
  const [rawCaptured, setRawCaptured] = useState(0)
  const [captureHint, setCaptureHint] = useState<string | undefined>()
  const [, setHintVersion] = useState(0)
  const viewActions = useRef<KeyAction[]>([])
  const signature = useRef('')

  const { status, flash, execute, runAction } = useActionRunner(readOnly, setPending, props.flashMs ?? FLASH_MS)

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
          <StatusLine status={status} />
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

/** The line under the view: the last flash, coloured by its tone, until it fades. */
function StatusLine({ status }: { status: Status | null }): React.JSX.Element {
  const tone = useTone()
  const color = status ? tone(status.tone === 'error' ? 'error' : status.tone === 'ok' ? 'ok' : 'muted') : undefined
  return (
    <Text color={color} wrap="truncate">
      {status ? status.message : ' '}
    </Text>
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
