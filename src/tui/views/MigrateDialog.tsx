// Migrate (migrate.pl + startmigration.pl): pick a destination among the providers with room, pick
// one of the methods that destination answered to QUERY (the hub QUERYs them all at once, like
// migrate.pl; RSYNC: block delta against a cached copy; SCP: full copy over SSH), confirm.
import React, { useEffect, useState } from 'react'
import { Box, Text } from 'ink'
import type { PmRow, VmRow } from '../../market/types.ts'
import { Table } from '../components/Table.tsx'
import { useFrame, useViewActions } from '../hooks/use-frame.ts'
import { useSelection } from '../hooks/use-selection.ts'
import { SEARCH_COLUMNS, searchRow, sortResults, type SearchResult } from '../render/search.ts'
import { errorMessage } from '../Frame.tsx'
import { useTone } from '../theme.ts'

export type Method = string
/** A destination as the hub's `destinations` answers it: a search offer plus its QUERY answer. */
export type DestinationResult = SearchResult & { methods?: string[] }

const ABOUT: Record<string, string> = {
  RSYNC: 'sends only blocks the destination lacks',
  SCP: 'copies the whole disk over SSH',
}

export interface MigrateDialogProps {
  vm: VmRow
  from?: PmRow
  width: number
  height: number
  load: () => Promise<DestinationResult[]>
  onMigrate: (to: SearchResult, method: Method) => Promise<unknown> | unknown
  onClose: () => void
  initial?: DestinationResult[]
}

/** Destinations: anywhere with room except where it is now. */
export function destinations(results: DestinationResult[], vm: Pick<VmRow, 'pmId'>): DestinationResult[] {
  return sortResults(
    results.filter((r) => r.pmId !== vm.pmId),
    'total',
  )
}

export function MigrateDialog(p: MigrateDialogProps): React.JSX.Element {
  const tone = useTone()
  const frame = useFrame()
  const [chosen, setChosen] = useState<Method | null>(null)
  const [results, setResults] = useState<DestinationResult[] | null>(p.initial ?? null)
  const rows = results ? destinations(results, p.vm) : []
  const [i] = useSelection(rows.length, { page: p.height - 5 })
  useEffect(() => {
    if (p.initial) return
    let live = true
    p.load().then(
      (r) => {
        if (live) setResults(r)
      },
      (err) => {
        if (live) {
          setResults([])
          frame.flash(errorMessage(err), 'error')
        }
      },
    )
    return () => {
      live = false
    }
  }, [])
  const to = rows[i]
  // The destination's own methods, in its order; an answer without them (an older hub) offers both.
  const offered = to?.methods ?? ['RSYNC', 'SCP']
  const method = chosen && offered.includes(chosen) ? chosen : (offered[0] ?? null)
  const toggle = () => {
    if (offered.length) setChosen(offered[(offered.indexOf(method ?? '') + 1) % offered.length])
  }
  const name = p.vm.name || p.vm.id.slice(0, 8)
  useViewActions([
    ...(to && method
      ? [
          {
            key: 'enter',
            description: `migrate to ${to.name}`,
            dangerous: true,
            confirm: `Migrate ${name} from ${p.from?.name ?? p.vm.pmId} to ${to.name} by ${method}?`,
            run: () => p.onMigrate(to, method),
          },
        ]
      : []),
    { key: 'right', description: `method ${method ?? '-'}`, run: toggle },
    { key: 'left', description: 'method', run: toggle, hidden: true },
    { key: 'esc', description: 'back', run: p.onClose },
  ])
  return (
    <Box flexDirection="column">
      <Text color={tone('title')} bold wrap="truncate">
        Migrate {name} (now on {p.from?.name ?? p.vm.pmId ?? '-'}, {p.vm.state})
      </Text>
      <Text wrap="truncate">
        method:{' '}
        {offered.length
          ? offered.map((m) => (m === method ? `[${m}]` : ` ${m} `)).join(' ')
          : 'none (the destination did not answer QUERY)'}
        {'  '}
        <Text color={tone('muted')}>{method ? (ABOUT[method] ?? '') : ''}</Text>
      </Text>
      <Table
        title="destination"
        columns={SEARCH_COLUMNS}
        rows={rows.map(searchRow)}
        width={p.width}
        height={Math.max(1, p.height - 5)}
        selected={i}
        empty={results ? 'no other provider machine has room for it' : 'looking for destinations…'}
      />
      <Text color={tone('muted')} wrap="truncate">
        The machine stays where it is until the hub commits; a failure reverts it.
      </Text>
    </Box>
  )
}
