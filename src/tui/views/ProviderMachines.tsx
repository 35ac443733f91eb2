// Machines for providers (mycomputers.pl, provider side): my physical machines with used/total
// speed, memory and storage and the virtual machines on each; add (pairing code), edit prices with
// the locked fields shown locked, drain (owners get time to move away) and delete.
import React, { useState } from 'react'
import { Box, Text } from 'ink'
import type { PmRow, VmRow } from '../../market/types.ts'
import { Table } from '../components/Table.tsx'
import { Form } from '../components/Form.tsx'
import { useFrame, useViewActions } from '../hooks/use-frame.ts'
import { useSelection } from '../hooks/use-selection.ts'
import { PM_COLUMNS, PM_VM_COLUMNS, pmPriceLine, pmRow, pmVmRow, type PmWithStatus } from '../render/machines.ts'
import { addFields, addParams, DEFAULT_DRAIN, pmEditFields, pmEditParams } from '../render/pmform.ts'
import type { KeyAction } from '../keys.ts'
import { useTone } from '../theme.ts'

export interface ProviderMachinesProps {
  pms: PmRow[]
  vms: VmRow[]
  online: Record<string, boolean>
  width: number
  height: number
  call: (method: string, params?: unknown) => Promise<any>
  initialMode?: 'list' | 'add' | 'edit'
}

export function ProviderMachines(p: ProviderMachinesProps): React.JSX.Element {
  const tone = useTone()
  const frame = useFrame()
  const [mode, setMode] = useState(p.initialMode ?? 'list')
  const pmRows = Math.max(1, Math.min(p.pms.length || 1, Math.floor((p.height - 6) / 2)))
  const [i] = useSelection(p.pms.length, { active: mode === 'list', page: pmRows })
  const pm = p.pms[i]
  const on = pm ? p.vms.filter((v) => v.pmId === pm.id) : []
  const back = () => setMode('list')

  const actions = pmActions(pm, on.length, p.call, setMode)
  useViewActions(mode === 'list' ? actions : [])

  if (mode === 'add') {
    return (
      <Form
        title="Add a physical machine"
        note="Install and start `virtuoso node --market KEY` on it first; it prints a pairing code."
        width={p.width}
        fields={addFields(pm)}
        submitLabel="add"
        onCancel={back}
        onSubmit={(v) =>
          p.call('pm.add', addParams(v)).then((r: PmRow) => {
            back()
            frame.flash(`added ${r?.name ?? v.name}`, 'ok')
          })
        }
      />
    )
  }
  if (mode === 'edit' && pm) {
    return (
      <Form
        title={`Edit ${pm.name}: new asks apply to machines stored from now on`}
        width={p.width}
        fields={pmEditFields(pm)}
        submitLabel="save"
        onCancel={back}
        onSubmit={(v) =>
          p.call('pm.edit', pmEditParams(pm.id, v)).then(() => {
            back()
            frame.flash(`${pm.name}: saved`, 'ok')
          })
        }
      />
    )
  }
  const withStatus: PmWithStatus[] = p.pms.map((x) => ({ ...x, online: p.online[x.id] }))
  return (
    <Box flexDirection="column">
      <Table
        title={`My physical machines (${p.pms.length})`}
        columns={PM_COLUMNS}
        rows={withStatus.map((x) => pmRow(x, p.vms.filter((v) => v.pmId === x.id).length))}
        tones={withStatus.map((x) => (x.drainUntil ? 'warn' : x.online === false ? 'error' : undefined))}
        width={p.width}
        height={pmRows}
        selected={i}
        empty="no physical machines yet: start `virtuoso node`, then press a and enter its pairing code"
      />
      {pm && (
        <Text color={tone('muted')} wrap="truncate">
          {pmPriceLine(pm)}
        </Text>
      )}
      {pm && (
        <Table
          title={`Virtual machines on ${pm.name} (${on.length})`}
          columns={PM_VM_COLUMNS}
          rows={on.map(pmVmRow)}
          width={p.width}
          height={Math.max(1, p.height - pmRows - 6)}
          selected={null}
          empty="none yet"
        />
      )}
    </Box>
  )
}

/** The list's key actions: add, and for the selected machine edit, drain (unless draining) and delete. */
function pmActions(
  pm: PmRow | undefined,
  count: number,
  call: ProviderMachinesProps['call'],
  setMode: (m: 'list' | 'add' | 'edit') => void,
): KeyAction[] {
  const actions: KeyAction[] = [{ key: 'a', description: 'add machine', mutates: true, run: () => setMode('add') }]
  if (!pm) return actions
  actions.push(
    { key: 'e', description: 'edit prices', mutates: true, run: () => setMode('edit') },
    ...(pm.drainUntil
      ? []
      : [
          {
            key: 'n',
            description: 'drain',
            dangerous: true,
            confirm: `Drain ${pm.name}? ${count} machine(s) get ${DEFAULT_DRAIN} to move away, then it goes`,
            run: () =>
              call('pm.delete', { pmId: pm.id, drain: DEFAULT_DRAIN }).then(
                () => `${pm.name}: draining for ${DEFAULT_DRAIN}`,
              ),
          },
        ]),
    {
      key: 'd',
      description: 'delete',
      dangerous: true,
      confirm: `Delete ${pm.name} now${count ? ` with its ${count} machine(s)` : ''}?`,
      run: () => call('pm.delete', { pmId: pm.id }).then(() => `${pm.name}: deleted`),
    },
  )
  return actions
}
