// Networks (the buyer's private LANs): each network with its machines, their addresses, where each
// runs and the live traffic of each machine's card; live from the change feed like every view, the
// traffic from the counters the providers report (polled while the view is open). Esc goes back.
import React from 'react'
import { Box } from 'ink'
import type { NetRow, PmRow, VmRow } from '../../market/types.ts'
import type { TrafficRow } from '../../market/traffic.ts'
import { Table } from '../components/Table.tsx'
import { useViewActions } from '../hooks/use-frame.ts'
import { NET_COLUMNS, networkRows } from '../render/networks.ts'

export interface NetworksProps {
  nets: NetRow[]
  vms: VmRow[]
  pmById: ReadonlyMap<string, PmRow>
  traffic?: ReadonlyMap<string, TrafficRow>
  width: number
  height: number
  onClose: () => void
}

export function Networks(p: NetworksProps): React.JSX.Element {
  useViewActions([{ key: 'esc', description: 'back', run: p.onClose }])
  const rows = networkRows(p.nets, p.vms, p.pmById, p.traffic)
  return (
    <Box flexDirection="column">
      <Table
        title={`My networks (${p.nets.length})`}
        columns={NET_COLUMNS}
        rows={rows}
        width={p.width}
        height={Math.max(1, p.height - 1)}
        selected={null}
        empty="no networks yet: your first machine makes 'default' (or `virtuoso net create NAME`)"
      />
    </Box>
  )
}
