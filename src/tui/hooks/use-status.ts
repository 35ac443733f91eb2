// The frame's status line and how a key action runs: a flash fades after a while (a newer one keeps
// its own time), an action's error or its answer string is flashed, never thrown, and a dangerous
// action waits for the confirmation prompt. Read-only sessions refuse what would change the market.
import { useCallback, useRef, useState } from 'react'
import type { KeyAction } from '../keys.ts'
import type { StatusTone } from './use-frame.ts'

export interface Status {
  message: string
  tone: StatusTone
  id: number
}

export function errorMessage(err: unknown): string {
  if (err && typeof err === 'object' && 'message' in err) return String((err as any).message).split('\n')[0]
  return String(err)
}

export function useActionRunner(readOnly: boolean, setPending: (a: KeyAction) => void, flashMs: number) {
  const [status, setStatus] = useState<Status | null>(null)
  const flashTimer = useRef<NodeJS.Timeout | undefined>(undefined)
  const flashSeq = useRef(0)

  const flash = useCallback(
    (message: string, t: StatusTone = 'info') => {
      const id = ++flashSeq.current
      setStatus({ message, tone: t, id })
      clearTimeout(flashTimer.current)
      flashTimer.current = setTimeout(() => setStatus((s) => (s?.id === id ? null : s)), flashMs)
      flashTimer.current.unref?.()
    },
    [flashMs],
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

  return { status, flash, execute, runAction }
}
