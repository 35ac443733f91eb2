// Search providers (searchproviders.pl / searchproviderspre.pl): who has room for this machine and
// what it would cost there, sortable by running, storage or total price; ⏎ stores it on the choice.
import React, { useEffect, useState } from 'react'
import { Box, Text } from 'ink'
import { Table } from '../components/Table.tsx'
import { useFrame, useViewActions } from '../hooks/use-frame.ts'
import { useSelection } from '../hooks/use-selection.ts'
import { nextSort, SEARCH_COLUMNS, searchRow, sortResults, type SearchResult, type SortKey } from '../render/search.ts'
import { errorMessage } from '../Frame.tsx'
import { useTone } from '../theme.ts'

export interface SearchProvidersProps {
  title: string
  width: number
  height: number
  load: (sort: SortKey) => Promise<SearchResult[]>
  onPick: (r: SearchResult) => Promise<unknown> | unknown
  onClose: () => void
  pickLabel?: string
  /** Results known already (tests, captures): no load at start. */
  initial?: SearchResult[]
}

export function SearchProviders(p: SearchProvidersProps): React.JSX.Element {
  const tone = useTone()
  const frame = useFrame()
  const [sort, setSort] = useState<SortKey>('total')
  const [results, setResults] = useState<SearchResult[] | null>(p.initial ?? null)
  const [error, setError] = useState<string | null>(null)
  const rows = results ? sortResults(results, sort) : []
  const [i] = useSelection(rows.length, { page: p.height - 4 })
  useEffect(() => {
    if (p.initial && sort === 'total') return
    let live = true
    p.load(sort).then(
      (r) => {
        if (live) {
          setResults(r)
          setError(null)
        }
      },
      (err) => {
        if (live) {
          setError(errorMessage(err))
          frame.flash(errorMessage(err), 'error')
        }
      },
    )
    return () => {
      live = false
    }
  }, [sort])
  const chosen = rows[i]
  useViewActions([
    ...(chosen
      ? [
          {
            key: 'enter',
            description: `${p.pickLabel ?? 'store'} on ${chosen.name}`,
            mutates: true,
            run: () => p.onPick(chosen),
          },
        ]
      : []),
    { key: 'o', description: `sort: ${sort}`, run: () => setSort(nextSort(sort)) },
    { key: 'esc', description: 'back', run: p.onClose },
  ])
  return (
    <Box flexDirection="column">
      <Table
        title={`${p.title} · sorted by ${sort} price`}
        columns={SEARCH_COLUMNS}
        rows={rows.map(searchRow)}
        width={p.width}
        height={Math.max(1, p.height - 4)}
        selected={i}
        empty={
          error ? `search failed: ${error}` : results ? 'no provider machine has room for it right now' : 'searching…'
        }
        tones={rows.map((r) => (r.withinBids ? undefined : 'warn'))}
      />
      <Text color={tone('muted')} wrap="truncate">
        TOTAL/DAY = storage per day + running 24 h; CHARGED = storage/running charge periods; BIDS over = above your bid
      </Text>
    </Box>
  )
}
