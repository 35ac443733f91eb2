// The sub-screens the buyer's Machines list opens on a key: register a machine, edit a registered
// one, find a provider and store it there, migrate it, and the Networks view. Each goes back to the
// list when it is done or cancelled. A plain function, not a component: the view draws the list
// instead when it returns null.
import React from 'react'
import type { ConfigRow, ImageRow, NetRow, PmRow, VmRow } from '../../market/types.ts'
import { Form } from '../components/Form.tsx'
import type { FrameApi } from '../hooks/use-frame.ts'
import type { TrafficRow } from '../../market/traffic.ts'
import { editFields, editParams, onConfigChange, registerFields, registerParams } from '../render/register.ts'
import type { SearchResult } from '../render/search.ts'
import { Networks } from './Networks.tsx'
import { SearchProviders } from './SearchProviders.tsx'
import { MigrateDialog, type Method } from './MigrateDialog.tsx'
import { machineLabel as label, type Mode } from './buyer-actions.ts'

export interface BuyerDialogProps {
  mode: Mode
  /** The selected machine and the provider machine it is stored on. */
  vm: VmRow | undefined
  pm: PmRow | undefined
  vms: VmRow[]
  pmById: ReadonlyMap<string, PmRow>
  configs: ConfigRow[]
  images?: ImageRow[]
  nets?: NetRow[]
  traffic: Map<string, TrafficRow>
  width: number
  height: number
  call: (method: string, params?: unknown) => Promise<any>
  registerConfig?: string | null
  registerImage?: string | null
  initialResults?: SearchResult[]
  onWatchMigration?: (vm: VmRow) => void
  back: () => void
  flash: FrameApi['flash']
}

/** The sub-screen of `mode`, or null for the list (or when it needs a machine and none is selected). */
export function buyerDialog(p: BuyerDialogProps): React.JSX.Element | null {
  const { vm, back } = p
  if (p.mode === 'register') {
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
            p.flash(`registered ${v?.name || v?.id || 'machine'}: press f to find a provider`, 'ok')
          })
        }
      />
    )
  }
  if (p.mode === 'networks')
    return (
      <Networks
        nets={p.nets ?? []}
        vms={p.vms}
        pmById={p.pmById}
        traffic={p.traffic}
        width={p.width}
        height={p.height}
        onClose={back}
      />
    )
  if (!vm) return null
  if (p.mode === 'edit') {
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
            p.flash(`${label(vm)}: saved`, 'ok')
          })
        }
      />
    )
  }
  if (p.mode === 'search') {
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
  if (p.mode === 'migrate') {
    return (
      <MigrateDialog
        vm={vm}
        from={p.pm}
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
  return null
}
