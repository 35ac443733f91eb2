// The machine's screen (QEMU VGA) as a picture in the Console view: a console@1 session in 'frames'
// mode, whose provider sends a frame scaled to the view a few times a second (src/console/display.ts).
// Connects while `enabled` (the view shows the picture and the machine is started); the view's size
// goes to the provider, which scales the next frame to it. Keys go nowhere: the picture is to look at.
import { useEffect, useRef, useState } from 'react'
import { decodeFrame, type Frame } from '../../console/frame.ts'
import type { ConsoleLink, OpenConsole } from '../console-link.ts'
import type { ConsolePhase } from '../render/console-status.ts'
import { consoleUnavailable, TUI_CONSOLE_FAILED } from '../errors.ts'

export interface PictureState {
  phase: ConsolePhase
  reason: { code: string; message: string } | null
  frame: Frame | null
  /** Frames received in this session (the view shows it is refreshing). */
  count: number
}

export function usePicture(o: {
  vmId: string | null
  open: OpenConsole | null
  cols: number
  rows: number
  enabled: boolean
}): PictureState {
  const [state, setState] = useState<PictureState>({ phase: 'idle', reason: null, frame: null, count: 0 })
  const link = useRef<ConsoleLink | null>(null)
  const size = useRef({ cols: o.cols, rows: o.rows })
  size.current = { cols: o.cols, rows: o.rows }

  useEffect(() => {
    if (!o.enabled || !o.vmId) return
    if (!o.open) {
      const reason = consoleUnavailable('virtuoso screenshot VMID FILE').toJSON()
      setState({ phase: 'failed', reason, frame: null, count: 0 })
      return
    }
    let live = true
    setState({ phase: 'connecting', reason: null, frame: null, count: 0 })
    const asked = size.current
    o.open(o.vmId, asked, 'frames').then(
      (l) => {
        if (!live) return void l.detach().catch(() => {})
        link.current = l
        setState((s) => ({ ...s, phase: 'attached' }))
        // The view may have changed size while we dialed.
        const s = size.current
        if (s.cols !== asked.cols || s.rows !== asked.rows) l.resize(s.cols, s.rows)
        l.on('data', (b) => {
          const frame = decodeFrame(b)
          if (live && frame) setState((p) => ({ ...p, frame, count: p.count + 1 }))
        })
        l.once('end', (end) => {
          if (link.current === l) link.current = null
          if (live) setState((p) => ({ ...p, phase: 'ended', reason: end }))
        })
      },
      (err: { code?: string; message?: string }) => {
        if (!live) return
        const reason = { code: err.code ?? TUI_CONSOLE_FAILED, message: err.message ?? String(err) }
        setState({ phase: 'failed', reason, frame: null, count: 0 })
      },
    )
    return () => {
      live = false
      const l = link.current
      link.current = null
      if (l && !l.closed) void l.detach().catch(() => {})
    }
  }, [o.enabled, o.vmId, o.open])

  useEffect(() => {
    link.current?.resize(o.cols, o.rows)
  }, [o.cols, o.rows])

  return state
}
