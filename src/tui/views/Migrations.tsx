// Migrations: every migration of mine, live: phase, progress bar, rate, ETA, heartbeat age, and the
// reason when one failed (report §7: VMMP 1.0; the origin keeps the machine until the hub commits).
import React from 'react'
import { Box, Text } from 'ink'
import type { PmRow, VmRow } from '../../market/types.ts'
import { useViewActions } from '../hooks/use-frame.ts'
import { useSelection } from '../hooks/use-selection.ts'
import { isDone, isFailed, migrationCard, orderMigrations, type MigrationRow } from '../render/migrations.ts'
import { scrollStart } from '../render/table.ts'
import { useTone } from '../theme.ts'

export interface MigrationsProps {
  migrations: MigrationRow[]
  vms: VmRow[]
  pmById: ReadonlyMap<string, PmRow>
  now: number
  width: number
  height: number
}

export function Migrations(p: MigrationsProps): React.JSX.Element {
  const tone = useTone()
  const rows = orderMigrations(p.migrations)
  const perPage = Math.max(1, Math.floor((p.height - 1) / 2))
  const [i] = useSelection(rows.length, { page: perPage })
  useViewActions([])
  const vmName = (id: string) => {
    const v = p.vms.find((x) => x.id === id)
    return v?.name || id.slice(0, 8)
  }
  const pmName = (id: string) => p.pmById.get(id)?.name ?? id.slice(0, 8)
  const start = scrollStart(i, rows.length, perPage)
  const active = rows.filter((m) => !isDone(m) && !isFailed(m)).length
  return (
    <Box flexDirection="column">
      <Text color={tone('title')} bold wrap="truncate">
        Migrations ({active} running, {rows.length} in all)
        {rows.length > perPage ? ` [${start + 1}-${Math.min(rows.length, start + perPage)}/${rows.length}]` : ''}
      </Text>
      {rows.length === 0 && (
        <Text color={tone('muted')}>
          {'  no migrations yet: in Machines, select a stored, stopped or suspended machine and press m'}
        </Text>
      )}
      {rows.slice(start, start + perPage).map((m, k) => {
        const card = migrationCard(
          m,
          { vm: vmName(m.vmId), from: pmName(m.from), to: pmName(m.to) },
          p.now,
          p.width - 2,
        )
        const t =
          card.tone === 'failed' ? 'error' : card.tone === 'late' ? 'warn' : card.tone === 'done' ? 'ok' : 'accent'
        const sel = start + k === i
        return (
          <Box key={m.id} flexDirection="column">
            <Text wrap="truncate" inverse={sel} bold>
              {(sel ? '> ' : '  ') + card.title}
            </Text>
            <Text wrap="truncate" color={tone(t)}>
              {card.detail}
            </Text>
          </Box>
        )
      })}
    </Box>
  )
}
