// The keys of the buyer's Machines list: register and networks always, then only the actions the
// selected machine's state allows (statusrelations via vmActions). A key either calls the market at
// once, after a confirmation naming the machine and its provider, or opens one of the view's sub-screens.
import type { PmRow, VmAction, VmRow } from '../../market/types.ts'
import { VM_ACTION_KEYS, vmActions } from '../render/machines.ts'
import type { KeyAction } from '../keys.ts'

/** The Machines view's screens: the list, and the sub-screens its keys open. */
export type Mode = 'list' | 'register' | 'edit' | 'search' | 'migrate' | 'networks'

export interface BuyerActionHandlers {
  call: (method: string, params?: unknown) => Promise<unknown>
  setMode: (mode: Mode) => void
  onConsole?: (vm: VmRow) => void
  onWatchMigration?: (vm: VmRow) => void
}

/** How a machine is named to its buyer: its name, or the start of its id. */
export const machineLabel = (v: VmRow) => v.name || v.id.slice(0, 8)

/** The list's keys for the selected machine `vm` (none selected: register and networks only). */
export function buyerActions(vm: VmRow | undefined, pm: PmRow | undefined, h: BuyerActionHandlers): KeyAction[] {
  const actions: KeyAction[] = [
    { key: 'n', description: 'register new', mutates: true, run: () => h.setMode('register') },
  ]
  if (vm) {
    const seen = new Set<string>()
    for (const a of vmActions(vm)) {
      const act = machineAction(a, vm, pm, h)
      // The row's own action list comes from the hub: one key each, whatever it repeats.
      if (seen.has(act.key)) continue
      seen.add(act.key)
      actions.push(act)
    }
  }
  actions.push({ key: 'i', description: 'networks', run: () => h.setMode('networks') })
  return actions
}

function machineAction(a: VmAction, v: VmRow, pm: PmRow | undefined, h: BuyerActionHandlers): KeyAction {
  const k = VM_ACTION_KEYS[a]
  const base = { key: k.key, description: k.description, dangerous: k.dangerous }
  const where = pm ? ` on ${pm.name}` : ''
  const simple = (method: string, done: string) => ({
    ...base,
    mutates: true,
    confirm: `${k.description[0].toUpperCase()}${k.description.slice(1)} ${machineLabel(v)}${where}?`,
    run: () => h.call(method, { vmId: v.id }).then(() => `${machineLabel(v)}: ${done}`),
  })
  switch (a) {
    case 'search':
    case 'store':
      return { ...base, mutates: a === 'store', run: () => h.setMode('search') }
    case 'edit':
      return { ...base, mutates: true, run: () => h.setMode('edit') }
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
      return { ...base, run: () => h.onConsole?.(v) }
    case 'migrate':
      return { ...base, dangerous: false, mutates: true, run: () => h.setMode('migrate') } // asks in the dialog
    case 'migrationstatus':
      return { ...base, run: () => h.onWatchMigration?.(v) }
  }
}
