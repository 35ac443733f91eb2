// One machine's console in the TUI: a ConsoleLink (console@1) feeding a headless xterm the size of
// the view; the screen is read back at most `fps` times a second for the view to draw. Connects on
// its own while the machine is started, again when it is started (resumed, migrated) after the
// provider closed the session; a takeover or a failure waits for the user's `reconnect()`. The
// terminal it feeds, and how often its screen is read back, is use-terminal.ts.
import { useCallback, useEffect, useRef, useState } from 'react'
import type { ConsoleLink, OpenConsole } from '../console-link.ts'
import type { Screen } from '../render/console.ts'
import type { KeyModes } from '../render/console-keys.ts'
import type { ConsolePhase } from '../render/console-status.ts'
import { consoleUnavailable, TUI_CONSOLE_FAILED } from '../errors.ts'
import { NET_CONNECTION_CLOSED } from '../../net/errors.ts'
import { useTerminal } from './use-terminal.ts'

export const DEFAULT_CONSOLE_FPS = 30

export interface UseConsoleOptions {
  vmId: string | null
  open: OpenConsole | null
  cols: number
  rows: number
  /** The machine is started: connect (and reconnect after it comes back). */
  enabled: boolean
  fps?: number
}

export interface ConsoleState {
  phase: ConsolePhase
  reason: { code: string; message: string } | null
  screen: Screen
  modes: KeyModes
  write(bytes: string): void
  /** Leave the console; the machine keeps running. */
  detach(): Promise<void>
  reconnect(): void
}

function infoOf(err: unknown): { code: string; message: string } {
  const e = err as { code?: unknown; message?: unknown } | null
  return {
    code: typeof e?.code === 'string' ? e.code : TUI_CONSOLE_FAILED,
    message: typeof e?.message === 'string' ? e.message.split('\n')[0] : String(err),
  }
}

export function useConsole(o: UseConsoleOptions): ConsoleState {
  const cols = Math.max(1, o.cols)
  const rows = Math.max(1, o.rows)
  const t = useTerminal(cols, rows, o.fps ?? DEFAULT_CONSOLE_FPS)
  const { draw } = t
  const [phase, setPhaseState] = useState<ConsolePhase>('idle')
  const [reason, setReason] = useState<ConsoleState['reason']>(null)
  const phaseRef = useRef<ConsolePhase>('idle')
  const link = useRef<ConsoleLink | null>(null)
  const attempt = useRef(0)
  const alive = useRef(true)
  const size = useRef({ cols, rows })
  size.current = { cols, rows }

  const setPhase = (p: ConsolePhase) => {
    phaseRef.current = p
    if (alive.current) setPhaseState(p)
  }

  const drop = useCallback(() => {
    const l = link.current
    link.current = null
    if (l && !l.closed) void l.detach().catch(() => {})
  }, [])

  const connect = useCallback(() => {
    if (!o.vmId) return
    const id = ++attempt.current
    drop()
    if (!o.open) {
      setReason(consoleUnavailable('virtuoso console VMID').toJSON())
      setPhase('failed')
      return
    }
    setReason(null)
    setPhase('connecting')
    o.open(o.vmId, size.current).then(
      (l) => {
        if (id !== attempt.current || !alive.current) {
          void l.detach().catch(() => {})
          return
        }
        link.current = l
        t.reset()
        if (l.closed) {
          setReason({ code: NET_CONNECTION_CLOSED, message: 'the console session ended at once' })
          setPhase('ended')
          return
        }
        setPhase('attached')
        // The view may have changed size while we dialed.
        const s = size.current
        if (s.cols !== o.cols || s.rows !== o.rows) l.resize(s.cols, s.rows)
        l.on('data', (b) => {
          t.term.write(b, draw)
        })
        l.once('end', (end) => {
          if (link.current === l) link.current = null
          if (id !== attempt.current) return
          if (alive.current) setReason(end)
          setPhase('ended')
          draw()
        })
      },
      (err) => {
        if (id !== attempt.current) return
        if (alive.current) setReason(infoOf(err))
        setPhase('failed')
      },
    )
  }, [o.vmId, o.open, draw, drop])

  // Connect when the view opens on a started machine, and when it becomes started again.
  useEffect(() => {
    if (!o.enabled || !o.vmId) return
    if (phaseRef.current === 'connecting' || phaseRef.current === 'attached') return
    connect()
  }, [o.enabled, o.vmId])

  // Another machine, or the view goes: leave the console.
  useEffect(
    () => () => {
      attempt.current++
      drop()
      setPhase('idle')
    },
    [o.vmId],
  )

  useEffect(() => {
    if (t.term.cols === cols && t.term.rows === rows) return
    t.term.resize(cols, rows)
    link.current?.resize(cols, rows)
    draw()
  }, [cols, rows])

  useEffect(() => {
    alive.current = true
    return () => {
      alive.current = false
      attempt.current++
      drop()
      t.dispose()
    }
  }, [])

  return {
    phase,
    reason,
    screen: t.screen,
    modes: { applicationCursorKeys: t.term.modes.applicationCursorKeysMode },
    write: (bytes) => {
      if (bytes && phaseRef.current === 'attached') link.current?.write(bytes)
    },
    detach: async () => {
      attempt.current++
      const l = link.current
      link.current = null
      setPhase('idle')
      if (l && !l.closed) await l.detach().catch(() => {})
    },
    reconnect: connect,
  }
}
