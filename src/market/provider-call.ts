// Asking a provider node to act on a machine (through the gateway) and checking the version it
// answers against the hub's (report §7.1.5): a node that is offline, fails, or answers another
// version than the action implies is refused with a market error before anything is committed.
import type { Ctx } from './context.ts'
import { errors } from './errors.ts'
import { versionAfter } from './gateway.ts'
import type { PmRow, VmRow } from './types.ts'

/** Asks the provider to act on a machine; checks the version it answers against the hub's. */
export async function askProvider(
  ctx: Ctx,
  pm: PmRow,
  vm: VmRow,
  method: string,
  params: Record<string, unknown>,
): Promise<number> {
  if (!ctx.gateway.online(pm.nodeKey)) throw errors.providerOffline(pm.id)
  let res: any
  try {
    res = await ctx.gateway.command(pm.nodeKey, method, { vmId: vm.id, ...params })
  } catch (err) {
    if (!ctx.gateway.online(pm.nodeKey)) throw errors.providerOffline(pm.id)
    throw errors.providerFailed(method.replace(/^vm\./, ''), vm.id, err)
  }
  if (method === 'vm.delete') return vm.version
  const want = versionAfter(method, vm.version)
  if (res?.version !== want) throw errors.versionMismatch(vm.id, want, res?.version)
  return want
}
