// A guest that powers itself off or crashes (issue 11, item 11; report §7.1.5: versions never go
// out of sync). The provider's hypervisor notices, raises the machine's version by one as a stop
// would, and its agent reports {vmId, version} until the hub acknowledges. The hub then moves the
// machine to 'stopped' with that version in one batch with the charges up to now (the running time
// left is kept as credit, as for a stop), and logs why. A report that no longer applies (the machine
// moved, was deleted, or the hub already knows) is acknowledged and changes nothing; one that
// arrives while the machine is busy here (an action or a migration in flight) is answered `retry`.
import type { Ctx } from './context.ts'
import { withVmLock } from './context.ts'
import { errors } from './errors.ts'
import { nodeOrigin } from './events.ts'
import { transitionOps } from './lifecycle.ts'

export interface ExitAnswer {
  applied: boolean
  retry?: boolean
}

export async function guestExited(ctx: Ctx, nodeKey: string, report: unknown): Promise<ExitAnswer> {
  const r = (report ?? {}) as { vmId?: unknown; version?: unknown }
  if (typeof r.vmId !== 'string' || !Number.isSafeInteger(r.version))
    throw errors.badInput('exit report', 'needs {vmId, version}')
  const vmId = r.vmId
  const version = r.version as number
  const node = ctx.store.get('nodes', nodeKey)
  const pm = node?.pmId ? ctx.store.get('pm', node.pmId) : undefined
  const vm0 = ctx.store.get('vm', vmId)
  // Only the node the machine is stored on may report for it; anything else is acknowledged, unused.
  if (!pm || !vm0 || vm0.pmId !== pm.id) return { applied: false }
  if (vm0.state === 'migrating' || ctx.locks.has(vmId)) return { applied: false, retry: true }
  if (vm0.state !== 'started' || version !== vm0.version + 1) return { applied: false }
  return withVmLock(ctx, vmId, async () => {
    const vm = ctx.store.get('vm', vmId)!
    const { ops } = transitionOps(
      ctx,
      vm,
      pm,
      'stop',
      version,
      ctx.clock(),
      nodeOrigin(nodeKey),
      ': the guest powered itself off or crashed; running charges stopped, start it again when wanted',
      'vm.exited',
    )
    await ctx.store.write(ops)
    return { applied: true }
  })
}
