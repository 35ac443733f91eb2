// Account (myaccounts.pl): balance, what each machine was charged (buyer) or earned (provider) and
// the rate it burns now, a sparkline of spend or income from the ledger, and a runway warning.
import React from 'react'
import { Box, Text } from 'ink'
import type { Identity, LedgerEntry, PmRow, VmRow } from '../../market/types.ts'
import { Table } from '../components/Table.tsx'
import { useViewActions } from '../hooks/use-frame.ts'
import { useSelection } from '../hooks/use-selection.ts'
import {
  balanceWarning,
  bucketLedger,
  BUYER_ACCOUNT_COLUMNS,
  buyerAccountRow,
  ledgerSpan,
  PROVIDER_ACCOUNT_COLUMNS,
  providerAccountRows,
  runway,
  sparkline,
  totalBurn,
} from '../render/account.ts'
import { duration, money, moneyApprox } from '../render/format.ts'
import { useTone } from '../theme.ts'

export interface AccountProps {
  me: Identity
  balance: number | null
  vms: VmRow[]
  /** Provider: my physical machines. */
  pms: PmRow[]
  ledger: LedgerEntry[]
  now: number
  width: number
  height: number
}

export function Account(p: AccountProps): React.JSX.Element {
  const tone = useTone()
  const buyer = p.me.type === 'buyer'
  const rate = totalBurn(p.vms)
  const balance = p.balance ?? 0
  const warning = buyer && p.balance !== null ? balanceWarning(balance, rate) : null
  const rows = buyer
    ? p.vms.map(buyerAccountRow)
    : p.pms.flatMap((pm) =>
        providerAccountRows(
          pm,
          p.vms.filter((v) => v.pmId === pm.id),
          p.ledger,
          p.me.username,
        ),
      )
  const tableHeight = Math.max(1, p.height - 7)
  const [i] = useSelection(rows.length, { page: tableHeight })
  useViewActions([])
  const sparkWidth = Math.max(10, Math.min(60, p.width - 30))
  const span = ledgerSpan(p.ledger, p.now)
  const buckets = bucketLedger(p.ledger, p.me.username, buyer ? 'spend' : 'income', p.now, span, sparkWidth)
  const total = buckets.reduce((a, b) => a + b, 0)
  const left = runway(balance, rate)
  return (
    <Box flexDirection="column">
      <Text wrap="truncate">
        <Text bold>Balance {p.balance === null ? '…' : money(p.balance)}</Text>
        <Text color={tone('muted')}>
          {buyer
            ? `  ·  burning ${moneyApprox(rate)}/h now${left === null ? '' : `  ·  lasts ${duration(left)}`}`
            : `  ·  earning ${moneyApprox(rate)}/h now`}
        </Text>
      </Text>
      <Text color={warning ? tone('warn') : tone('ok')} bold={!!warning} wrap="truncate">
        {warning ? `⚠ ${warning}` : buyer ? 'balance is fine at the current rate' : ' '}
      </Text>
      <Table
        title={buyer ? 'Charges per machine' : 'Income per physical machine, and per machine on it'}
        columns={buyer ? BUYER_ACCOUNT_COLUMNS : PROVIDER_ACCOUNT_COLUMNS}
        rows={rows}
        width={p.width}
        height={tableHeight}
        selected={i}
        empty={buyer ? 'no machines are charged yet' : 'no physical machines yet'}
      />
      <Text color={tone('muted')} wrap="truncate">
        {buyer ? 'spend' : 'income'} over the last {duration(span)} (total {money(total)}):
      </Text>
      <Text color={tone('accent')}>{sparkline(buckets)}</Text>
    </Box>
  )
}
