// A k9s-style table: fitted columns, a cursor row, scrolling that keeps the cursor in view.
import React from 'react'
import { Box, Text } from 'ink'
import { renderTable, scrollStart, type Column } from '../render/table.ts'
import { useTone, type Tone } from '../theme.ts'

export interface TableProps {
  columns: Column[]
  rows: string[][]
  width: number
  /** Rows of the body (header and title not counted). */
  height: number
  selected?: number | null
  title?: string
  empty?: string
  tones?: Array<Tone | undefined>
  /** Dim the cursor when another pane has the focus. */
  focused?: boolean
  /** Row to keep in view when no row is selected (the log's tail). */
  anchor?: number
}

export function Table(p: TableProps): React.JSX.Element {
  const tone = useTone()
  const { header, lines } = renderTable(p.columns, p.rows, Math.max(10, p.width - 2))
  const sel = p.selected ?? -1
  const start = scrollStart(sel >= 0 ? sel : Math.max(0, p.anchor ?? 0), lines.length, p.height)
  const visible = lines.slice(start, start + Math.max(0, p.height))
  const more = lines.length > p.height ? ` [${start + 1}-${start + visible.length}/${lines.length}]` : ''
  return (
    <Box flexDirection="column">
      {p.title !== undefined && (
        <Text color={tone('title')} bold wrap="truncate">
          {p.title}
          {more}
        </Text>
      )}
      <Text color={tone('muted')} bold wrap="truncate">
        {'  ' + header}
      </Text>
      {visible.length === 0 && (
        <Text color={tone('muted')} wrap="truncate">
          {'  ' + (p.empty ?? 'nothing here yet')}
        </Text>
      )}
      {visible.map((line, i) => {
        const idx = start + i
        const isSel = idx === sel
        return (
          <Text
            key={idx}
            wrap="truncate"
            inverse={isSel && p.focused !== false}
            color={p.tones?.[idx] ? tone(p.tones[idx]!) : undefined}
          >
            {(isSel && p.focused !== false ? '> ' : '  ') + line}
          </Text>
        )
      })}
    </Box>
  )
}
