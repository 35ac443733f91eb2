// Machines for buyers (mycomputers.pl): my machines with state, version, provider, prices and only
// the actions the state allows; register, edit, search+store, start/stop/suspend/resume/delete, migrate.
import React, { useEffect, useState } from 'react'
import { Box, Text } from 'ink'
import type { ConfigRow, ImageRow, NetRow, PmRow, VmAction, VmRow } from '../../market/types.ts'
import { Networks } from './Networks.tsx'
import { Table } from '../components/Table.tsx'
import { Form } from '../components/Form.tsx'
import { useFrame, useViewActions } from '../hooks/use-frame.ts'
import { useSelection } from '../hooks/use-selection.ts'
import { useTraffic, type LoadTraffic } from '../hooks/use-traffic.ts'
import { trafficLine } from '../render/traffic.ts'
import { VM_ACTION_KEYS, VM_COLUMNS, vmActions, vmDetails, vmRow } from '../render/machines.ts'
import { editFields, editParams, onConfigChange, registerFields, registerParams } from '../render/register.ts'
import type { SearchResult } from '../render/search.ts'
import { SearchProviders } from './SearchProviders.tsx'
import { MigrateDialog, type Method } from './MigrateDialog.tsx'
import type { KeyAction } from '../keys.ts'
import { useTone, type Tone } from '../theme.ts'

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

export type Mode = 'list' | 'register' | 'edit' | 'search' | 'migrate' | 'networks'

export const STATE_TONES: Record<string, Tone | undefined> = {
  started: 'ok',
  migrating: 'warn',
  suspended: 'muted',
  registered: undefined,
  stored: undefined,
  stopped: undefined,
}

const label = (v: VmRow) => v.name || v.id.slice(0, 8)

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

  const verb = (a: VmAction, v: VmRow): KeyAction => {
    const k = VM_ACTION_KEYS[a]
    const base = { key: k.key, description: k.description, dangerous: k.dangerous }
    const simple = (method: string, done: string) => ({
      ...base,
      mutates: true,
      confirm: `${k.description[0].toUpperCase()}${k.description.slice(1)} ${label(v)}${pm ? ` on ${pm.name}` : ''}?`,
      run: () => p.call(method, { vmId: v.id }).then(() => `${label(v)}: ${done}`),
    })
    switch (a) {
      case 'search':
      case 'store':
        return { ...base, mutates: a === 'store', run: () => setMode('search') }
      case 'edit':
        return { ...base, mutates: true, run: () => setMode('edit') }
      case 'start':
        return simple('start', 'starting')
      case 'stop':
        return simple('stop', 'stopping')
      case 'suspend':
        return simple('suspend', 'suspending')
      case 'resume':
        return simple('resume', 'resuming')
      case 'delete':
        return simple('delete', 'deleted')
      case 'view':
        return { ...base, run: () => p.onConsole?.(v) }
      case 'migrate':
        return { ...base, dangerous: false, mutates: true, run: () => setMode('migrate') } // asks in the dialog
      case 'migrationstatus':
        return { ...base, run: () => p.onWatchMigration?.(v) }
    }
  }

  const listActions: KeyAction[] = [
    { key: 'n', description: 'register new', mutates: true, run: () => setMode('register') },
  ]
  if (vm) {
    const seen = new Set<string>()
    for (const a of vmActions(vm)) {
      const act = verb(a, vm)
      if (seen.has(act.key)) continue
      seen.add(act.key)
      listActions.push(act)
    }
  }
  listActions.push({ key: 'i', description: 'networks', run: () => setMode('networks') })
  useViewActions(
    mode === 'list' ? listActions : mode === 'search' || mode === 'migrate' || mode === 'networks' ? null : [],
  )

  if (mode === 'register') {
    const fields = registerFields(
      p.configs,
      p.registerConfig ?? undefined,
      p.images ?? [],
      p.registerImage ?? undefined,
    )
    return (
      <Form
        title="Register a machine"
        note="From a standard configuration (sizes and market-average bids filled in), or edit the sizes."
        width={p.width}
        fields={fields}
        submitLabel="register"
        onChange={onConfigChange(p.configs, fields[0].value)}
        onCancel={back}
        onSubmit={(values) =>
          p.call('register', registerParams(values, p.configs)).then((v: VmRow) => {
            back()
            frame.flash(`registered ${v?.name || v?.id || 'machine'}: press f to find a provider`, 'ok')
          })
        }
      />
    )
  }
  if (mode === 'edit' && vm) {
    return (
      <Form
        title={`Edit ${label(vm)} (registered)`}
        width={p.width}
        fields={editFields(vm)}
        submitLabel="save"
        onCancel={back}
        onSubmit={(values) =>
          p.call('edit', editParams(vm.id, values)).then(() => {
            back()
            frame.flash(`${label(vm)}: saved`, 'ok')
          })
        }
      />
    )
  }
  if (mode === 'search' && vm) {
    return (
      <SearchProviders
        title={`Providers for ${label(vm)}`}
        width={p.width}
        height={p.height}
        initial={p.initialResults}
        load={(sort) => p.call('search', { vmId: vm.id, sort }).then((r) => r.results ?? [])}
        onPick={(r) =>
          p.call('store', { vmId: vm.id, pmId: r.pmId }).then(() => {
            back()
            return `${label(vm)}: stored on ${r.name}`
          })
        }
        onClose={back}
      />
    )
  }
  if (mode === 'networks')
    return (
      <Networks
        nets={p.nets ?? []}
        vms={p.vms}
        pmById={p.pmById}
        traffic={traffic}
        width={p.width}
        height={p.height}
        onClose={back}
      />
    )
  if (mode === 'migrate' && vm) {
    return (
      <MigrateDialog
        vm={vm}
        from={pm}
        width={p.width}
        height={p.height}
        initial={p.initialResults}
        load={() => p.call('destinations', { vmId: vm.id }).then((r) => r.destinations ?? [])}
        onMigrate={(to: SearchResult, method: Method) =>
          p.call('migrate', { vmId: vm.id, to: to.pmId, method }).then(() => {
            back()
            p.onWatchMigration?.(vm)
            return `${label(vm)}: migrating to ${to.name} by ${method}`
          })
        }
        onClose={back}
      />
    )
  }
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
