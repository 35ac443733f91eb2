// Machines for buyers (mycomputers.pl): my machines with state, version, provider, prices and only
// the actions the state allows; register, edit, search+store, start/stop/suspend/resume/delete, migrate.
import React, { useEffect, useState } from 'react'
import { Box, Text } from 'ink'
import type { ConfigRow, ImageRow, NetRow, PmRow, VmRow } from '../../market/types.ts'
import { Table } from '../components/Table.tsx'
import { useFrame, useViewActions } from '../hooks/use-frame.ts'
import { useSelection } from '../hooks/use-selection.ts'
import { useTraffic, type LoadTraffic } from '../hooks/use-traffic.ts'
import { trafficLine } from '../render/traffic.ts'
import { VM_COLUMNS, vmDetails, vmRow } from '../render/machines.ts'
import type { SearchResult } from '../render/search.ts'
import { useTone, type Tone } from '../theme.ts'
import { buyerActions, type Mode } from './buyer-actions.ts'
import { buyerDialog } from './buyer-dialogs.tsx'

export type { Mode } from './buyer-actions.ts'

type Call = (method: string, params?: unknown) => Promise<any>

export interface BuyerMachinesProps {
  vms: Array<VmRow & { actions?: string[] }>
  pmById: ReadonlyMap<string, PmRow>
  configs: ConfigRow[]
  /** The image catalog: register picks one. */
  images?: ImageRow[]
  /** My networks (the Networks sub-view, key i). */
  nets?: NetRow[]
  width: number
  height: number
  call: Call
  onConsole?: (vm: VmRow) => void
  /** The machine under the cursor (view 6 opens its console). */
  onSelect?: (vm: VmRow | undefined) => void
  onWatchMigration?: (vm: VmRow) => void
  /** Open the register form at start, on this configuration (from the Market view). */
  registerConfig?: string | null
  /** Open the register form with this catalog image chosen (from the Images view). */
  registerImage?: string | null
  /** Sub-screen to open at start (captures, tests). */
  initialMode?: Mode
  initialResults?: SearchResult[]
  /** The live traffic counters of my machines (market@1 `traffic`), polled while shown. */
  loadTraffic?: LoadTraffic
  trafficPollMs?: number
  /** A fixed clock (captures, tests): the age of the traffic figures. */
  now?: number
}

export const STATE_TONES: Record<string, Tone | undefined> = {
  started: 'ok',
  migrating: 'warn',
  suspended: 'muted',
  registered: undefined,
  stored: undefined,
  stopped: undefined,
}

export function BuyerMachines(p: BuyerMachinesProps): React.JSX.Element {
  const tone = useTone()
  const frame = useFrame()
  const [mode, setMode] = useState<Mode>(p.registerConfig || p.registerImage ? 'register' : (p.initialMode ?? 'list'))
  const tableHeight = Math.max(1, p.height - 5)
  const [i] = useSelection(p.vms.length, { active: mode === 'list', page: tableHeight })
  const vm = p.vms[i]
  const pm = vm?.pmId ? p.pmById.get(vm.pmId) : undefined
  useEffect(() => {
    p.onSelect?.(vm)
  }, [vm?.id])
  const back = () => setMode('list')
  // Live traffic counters: the selected machine's line, the Networks view's columns.
  const traffic = useTraffic(p.loadTraffic, mode === 'list' || mode === 'networks', p.trafficPollMs)
  // Each poll renders again, so the age of stale figures needs no clock of its own.
  const now = p.now ?? Date.now()

  // The list's keys; a sub-screen that publishes its own gets null (see useViewActions), a form none.
  const ownKeys = mode === 'search' || mode === 'migrate' || mode === 'networks'
  useViewActions(mode === 'list' ? buyerActions(vm, pm, { ...p, setMode }) : ownKeys ? null : [])

  const dialog = mode === 'list' ? null : buyerDialog({ ...p, mode, vm, pm, traffic, back, flash: frame.flash })
  if (dialog) return dialog
  return (
    <Box flexDirection="column">
      <Table
        title={`My machines (${p.vms.length})`}
        columns={VM_COLUMNS}
        rows={p.vms.map((v) => vmRow(v, p.pmById))}
        tones={p.vms.map((v) => STATE_TONES[v.state])}
        width={p.width}
        height={tableHeight}
        selected={i}
        empty="no machines yet: press n to register one (or pick a configuration in Market)"
      />
      {vm &&
        [...vmDetails(vm, pm), ...(vm.state === 'started' ? [trafficLine(traffic.get(vm.id), now) ?? ''] : [])]
          .filter(Boolean)
          .map((line, k) => (
            <Text key={k} color={tone('muted')} wrap="truncate">
              {line}
            </Text>
          ))}
    </Box>
  )
}
