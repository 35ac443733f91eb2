// The dashboard's first lines: who is logged in and their balance, the market, warnings, and the
// view tabs with their number keys.
import React from 'react'
import { Box, Text } from 'ink'
import type { Identity, Micro } from '../market/types.ts'
import { money, shortId } from './render/format.ts'
import { useTone } from './theme.ts'
import { VIEWS, type ViewName } from './view-names.ts'

export interface HeaderProps {
  notice?: string
  me: Identity | null
  balance: Micro | null
  market?: string
  readOnly?: boolean
  syncing: boolean
  feedError: string | null
  view: ViewName
}

export function Header(p: HeaderProps): React.JSX.Element {
  const tone = useTone()
  const { me, view } = p
  return (
    <Box flexDirection="column">
      <Text wrap="truncate">
        <Text color={tone('accent')} bold>
          Virtuoso
        </Text>
        {p.notice ? <Text color={tone('warn')}>{`  [${p.notice}]`}</Text> : null}
        {me ? (
          <Text>
            {`  ${me.username} (${me.type})  balance `}
            <Text bold>{p.balance === null ? '…' : money(p.balance)}</Text>
          </Text>
        ) : null}
        {p.market ? <Text color={tone('muted')}>{`  market ${shortId(p.market)}`}</Text> : null}
        {p.readOnly ? <Text color={tone('warn')}>{'  [read-only]'}</Text> : null}
        {p.syncing ? <Text color={tone('muted')}>{'  syncing…'}</Text> : null}
        {p.feedError ? <Text color={tone('error')}>{`  feed: ${p.feedError}`}</Text> : null}
      </Text>
      {me && (
        <Text wrap="truncate">
          {VIEWS.map((v) => (
            <Text
              key={v.name}
              inverse={v.name === view}
              color={v.name === view ? undefined : tone('muted')}
            >{` ${v.key} ${v.title} `}</Text>
          ))}
        </Text>
      )}
    </Box>
  )
}
