// The Market tab's prices (browsemachines.pl + getproviders.pl): standard configurations with
// market-average prices, and the provider marketplace with each provider's asks beside the market
// average. Live from the feed.
import React, { useState } from 'react'
import { Box, Text } from 'ink'
import type { AccountType, ConfigRow, PmRow } from '../../market/types.ts'
import { Table } from '../components/Table.tsx'
import { useViewActions } from '../hooks/use-frame.ts'
import { useSelection } from '../hooks/use-selection.ts'
import {
  averagesLine,
  CONFIG_COLUMNS,
  configRow,
  marketAverages,
  PROVIDER_COLUMNS,
  providerRow,
} from '../render/prices.ts'
import type { KeyAction } from '../keys.ts'
import { useTone } from '../theme.ts'

export interface PricesProps {
  configs: ConfigRow[]
  pms: PmRow[]
  accountType: AccountType | null
  width: number
  height: number
  /** Buyer: register a machine from this configuration (opens the form). */
  onRegister?: (c: ConfigRow) => void
  /** Buyer: search providers for this configuration before registering (searchproviderspre.pl). */
  onSearch?: (c: ConfigRow) => void
}

/** Rows of each pane: configurations get what they need up to half, providers the rest. */
export function marketPanes(height: number, configs: number): { configRows: number; providerRows: number } {
  const body = Math.max(2, height - 5)
  const configRows = Math.max(1, Math.min(configs || 1, Math.floor(body / 2)))
  return { configRows, providerRows: Math.max(1, body - configRows) }
}

export function Prices(p: PricesProps): React.JSX.Element {
  const tone = useTone()
  const [pane, setPane] = useState<'configs' | 'providers'>('configs')
  const { configRows, providerRows } = marketPanes(p.height, p.configs.length)
  const [ci] = useSelection(p.configs.length, { active: pane === 'configs', page: configRows })
  const [pi] = useSelection(p.pms.length, { active: pane === 'providers', page: providerRows })
  const avg = marketAverages(p.pms)
  const config = p.configs[ci]
  const actions: KeyAction[] = [
    {
      key: 'tab',
      description: pane === 'configs' ? 'providers' : 'configurations',
      run: () => setPane(pane === 'configs' ? 'providers' : 'configs'),
    },
  ]
  if (p.accountType === 'buyer' && pane === 'configs' && config) {
    if (p.onRegister)
      actions.push({ key: 'n', description: 'register this', mutates: true, run: () => p.onRegister!(config) })
    if (p.onSearch) actions.push({ key: 'f', description: 'find providers', run: () => p.onSearch!(config) })
  }
  useViewActions(actions)
  return (
    <Box flexDirection="column">
      <Table
        title={`Standard configurations (${p.configs.length}) · market average prices`}
        columns={CONFIG_COLUMNS}
        rows={p.configs.map(configRow)}
        width={p.width}
        height={configRows}
        selected={ci}
        focused={pane === 'configs'}
        empty="no standard configurations yet"
      />
      <Table
        title={`Provider marketplace (${p.pms.length}) · price, then vs the market average`}
        columns={PROVIDER_COLUMNS}
        rows={p.pms.map((pm) => providerRow(pm, avg))}
        width={p.width}
        height={providerRows}
        selected={pi}
        focused={pane === 'providers'}
        empty="no provider machines yet"
      />
      <Text color={tone('muted')} wrap="truncate">
        {averagesLine(avg)}
      </Text>
    </Box>
  )
}
