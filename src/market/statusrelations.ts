// The statusrelations table (report §6.1.7) in our spelling. It alone decides which action a
// machine's state allows; `delete` is added where the machine is neither running nor migrating,
// and `store` to registered (the report stores through the search page).
import type { VmAction, VmState } from './types.ts'
import { errors } from './errors.ts'

export const STATUS_RELATIONS: Readonly<Record<VmState, readonly VmAction[]>> = Object.freeze({
  registered: ['search', 'edit', 'store', 'delete'],
  stored: ['start', 'migrate', 'delete'],
  started: ['stop', 'view', 'suspend'],
  stopped: ['start', 'migrate', 'delete'],
  suspended: ['resume', 'migrate', 'delete'],
  migrating: ['migrationstatus'],
})

export function allowedActions(state: VmState): readonly VmAction[] {
  return STATUS_RELATIONS[state] ?? []
}

export function isAllowed(state: VmState, action: VmAction): boolean {
  return allowedActions(state).includes(action)
}

/** Throws MARKET_ACTION_NOT_ALLOWED, naming what the state does allow. */
export function requireAction(state: VmState, action: VmAction): void {
  if (!isAllowed(state, action)) throw errors.actionNotAllowed(action, state, allowedActions(state))
}
