// Console (viewmachine.pl): the machine's screen over console@1, typed into directly. While it is
// live every key goes to the machine (the hint bar says so) except Ctrl-], which detaches and goes
// back, like `virsh console`. When the session ends the last screen stays, with why on the status
// line; `r` reconnects (taking the console back from another viewer). Ctrl-\ (or `p` when not live)
// shows the machine's screen (QEMU VGA) as a picture of half blocks, refreshed a few times a second;
// `s` goes back to the serial text, whose session stays attached meanwhile.
import React, { useContext, useState } from 'react'
import { Box, Text } from 'ink'
import type { PmRow, VmRow } from '../../market/types.ts'
import { useCapture, useViewActions } from '../hooks/use-frame.ts'
import { useKeys } from '../hooks/use-keys.ts'
import { useConsole } from '../hooks/use-console.ts'
import type { OpenConsole } from '../console-link.ts'
import { consoleRows, type Run } from '../render/console.ts'
import { DETACH_HINT, DETACH_KEY, keyBytes } from '../render/console-keys.ts'
import { consoleStatus } from '../render/console-status.ts'
import { pictureRows, pictureStatus, SCREEN_HINT, SCREEN_KEY } from '../render/picture.ts'
import { usePicture } from '../hooks/use-picture.ts'
import { ThemeContext, useTone, type Tone } from '../theme.ts'

export interface ConsoleProps {
  vm: VmRow | null
  pm?: PmRow
  /** The body's size: one line is the title/status, the rest the machine's screen. */
  width?: number
  height?: number
  /** Ticket + dial (src/tui/console-link.ts); null = this session cannot reach providers. */
  open?: OpenConsole | null
  onBack?: () => void
  /** Screen reads per second while output flows. */
  fps?: number
}

const STATUS_TONES: Record<string, Tone | undefined> = { ok: 'ok', warn: 'warn', error: 'error', muted: 'muted' }

export function Console(p: ConsoleProps): React.JSX.Element {
  const tone = useTone()
  const { noColor } = useContext(ThemeContext)
  const width = Math.max(10, p.width ?? 80)
  const rows = Math.max(1, (p.height ?? 19) - 1)
  const vm = p.vm
  const c = useConsole({
    vmId: vm?.id ?? null,
    open: p.open ?? null,
    cols: width,
    rows,
    enabled: vm?.state === 'started',
    fps: p.fps,
  })
  const [picture, setPicture] = useState(false)
  const pic = usePicture({
    vmId: vm?.id ?? null,
    open: p.open ?? null,
    cols: width,
    rows,
    enabled: picture && vm?.state === 'started',
  })
  const live = !picture && (c.phase === 'attached' || c.phase === 'connecting')
  const back = () => {
    void c.detach()
    p.onBack?.()
  }
  const started = vm?.state === 'started'

  useCapture(live, `<${DETACH_HINT}> detach  ·  <${SCREEN_HINT}> picture  ·  other keys go to the machine`, true)
  useKeys((_name, input, key) => {
    if (input === DETACH_KEY) return back()
    if (input === SCREEN_KEY) return setPicture(true)
    if (c.phase === 'attached') c.write(keyBytes(input, key, c.modes))
  }, live)
  const toSerial = () => {
    setPicture(false)
    if (started && c.phase !== 'attached' && c.phase !== 'connecting') c.reconnect()
  }
  useViewActions(
    live
      ? []
      : [
          ...(p.onBack
            ? [
                { key: 'esc', description: 'back to machines', run: back },
                { key: DETACH_KEY, description: 'back', run: back, hidden: true },
              ]
            : []),
          ...(picture
            ? [
                { key: 's', description: 'serial text', run: toSerial },
                { key: SCREEN_KEY, description: 'serial text', run: toSerial, hidden: true },
              ]
            : started
              ? [
                  { key: 'p', description: 'screen picture', run: () => setPicture(true) },
                  { key: 'r', description: 'reconnect', run: () => c.reconnect() },
                ]
              : []),
        ],
  )

  if (!vm) {
    return (
      <Box flexDirection="column">
        <Text color={tone('title')} bold>
          Console
        </Text>
        <Text>No machine chosen: in Machines, select a started machine and press v.</Text>
      </Box>
    )
  }
  const label = vm.name || vm.id
  const about = { machine: label, provider: p.pm?.name, state: vm.state, cols: width, rows }
  const status = picture
    ? pictureStatus({ ...about, phase: pic.phase, reason: pic.reason, frame: pic.frame, count: pic.count })
    : consoleStatus({ ...about, phase: c.phase, reason: c.reason })
  const screen = picture
    ? pic.frame
      ? pictureRows(pic.frame, { noColor })
      : []
    : consoleRows(c.screen, { noColor, cursor: c.phase === 'attached' })
  return (
    <Box flexDirection="column">
      <Text wrap="truncate">
        <Text color={tone('title')} bold>
          Console{' '}
        </Text>
        <Text color={tone(STATUS_TONES[status.tone] ?? 'muted')}>{status.text}</Text>
      </Text>
      {screen.map((runs, y) => (
        <Row key={y} runs={runs} />
      ))}
    </Box>
  )
}

const Row = React.memo(
  function Row({ runs }: { runs: Run[] }) {
    return (
      <Text wrap="truncate">
        {runs.map((r, i) => (
          <Text
            key={i}
            color={r.style.fg}
            backgroundColor={r.style.bg}
            bold={r.style.bold}
            dimColor={r.style.dim}
            italic={r.style.italic}
            underline={r.style.underline}
            inverse={r.style.inverse}
            strikethrough={r.style.strikethrough}
          >
            {r.text}
          </Text>
        ))}
      </Text>
    )
  },
  (a, b) => sameRuns(a.runs, b.runs),
)

function sameRuns(a: Run[], b: Run[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    const x = a[i],
      y = b[i]
    if (x.text !== y.text || JSON.stringify(x.style) !== JSON.stringify(y.style)) return false
  }
  return true
}
