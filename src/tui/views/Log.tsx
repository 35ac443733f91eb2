// Log: the event log (events concerning me), following the tail as it grows; ↑ stops following
// so older lines can be read, f follows again.
import React, { useEffect, useState } from 'react'
import { Box } from 'ink'
import type { EventRow } from '../../market/types.ts'
import { Table } from '../components/Table.tsx'
import { useFrame, useViewActions } from '../hooks/use-frame.ts'
import { moveIndex } from '../hooks/use-selection.ts'
import { useKeys } from '../hooks/use-keys.ts'
import { eventRow, isAlarm, LOG_COLUMNS, orderEvents } from '../render/log.ts'

export interface LogProps {
  events: EventRow[]
  now: number
  width: number
  height: number
}

export function Log(p: LogProps): React.JSX.Element {
  const frame = useFrame()
  const rows = orderEvents(p.events)
  const [follow, setFollow] = useState(true)
  const [i, setI] = useState(Math.max(0, rows.length - 1))
  useEffect(() => {
    if (follow) setI(Math.max(0, rows.length - 1))
  }, [rows.length, follow])
  const height = Math.max(1, p.height - 2)
  useKeys((name) => {
    const next = moveIndex(i, name, rows.length, height)
    if (next === null) return
    setI(next)
    setFollow(next >= rows.length - 1)
  }, frame.inputFree)
  useViewActions([{ key: 'f', description: follow ? 'following' : 'follow', run: () => setFollow(true) }])
  return (
    <Box flexDirection="column">
      <Table
        title={`Event log (${rows.length})${follow ? ' · following' : ' · paused, f follows'}`}
        columns={LOG_COLUMNS}
        rows={rows.map((e) => eventRow(e, p.now))}
        tones={rows.map((e) => (isAlarm(e) ? 'error' : undefined))}
        width={p.width}
        height={height}
        selected={follow ? null : i}
        anchor={i}
        empty="no events yet"
      />
    </Box>
  )
}
