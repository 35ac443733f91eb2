// Copies a node holds that the market does not place on it (issue 11): the origin's copy after a
// committed migration whose release never took effect, a machine deleted in the market that a node
// restored from a backup, a destination's leftover. The rule never loses a buyer's only copy: a node
// is told to delete its copy only when the market places the machine on another provider machine at
// a version at least the node's (that copy is the newer one), or the market deleted the machine (its
// log has the deletion). Anything else is kept and reported once to the operator: a copy newer than
// the market's, one of a machine the market places nowhere, one the market never heard of (a hub
// restored from an older export must not wipe its providers). Machines with an action or a migration
// in flight are left to their own code. A machine the market lost (its own node no longer held it,
// lost-copies.ts) is no deletion: a copy of it is taken back, never removed. And a copy is removed
// because the machine is placed elsewhere only once that node confirms it holds its newer copy: if
// that disk is gone too, the copy here is the buyer's last one.
import type { Ctx } from './context.ts'
import { withVmLock } from './context.ts'
import { eventOp } from './events.ts'
import type { PmRow, VmRow } from './types.ts'
import { readoptOps, wasLost } from './lost-copies.ts'

export interface Held {
  id: string
  state: string
  version: number
}

/** Copies reported as kept, per market: each once per version, not at every 30 s pass. */
const reported = new WeakMap<Ctx, Set<string>>()

/** Why the node's copy may go, or null when it must stay. */
function removable(vm: VmRow | undefined, pm: PmRow, h: Held, deleted: Set<string>): string | null {
  if (!vm) return deleted.has(h.id) ? 'the machine was deleted in the market' : null
  if (vm.pmId === pm.id || !vm.pmId || vm.state === 'migrating' || vm.state === 'registered') return null
  return vm.version >= h.version ? 'the machine now runs elsewhere, from a copy at least as new' : null
}

/** Machine ids the event log records as deleted; read only when a node holds one the market lacks. */
async function deletedIds(ctx: Ctx, ids: string[]): Promise<Set<string>> {
  const wanted = new Set(ids)
  const out = new Set<string>()
  try {
    await ctx.store.scan('events', (e) => {
      if (e.type === 'vm.delete' && e.vmId && wanted.has(e.vmId)) out.add(e.vmId)
    })
  } catch (err) {
    ctx.problem('reconcile: reading the event log', err) // the hub is closing: nothing counts as deleted
    return new Set()
  }
  return out
}

/** Tells the node of `pm` to delete the copies the rule allows; returns their ids. */
export async function removeStrays(
  ctx: Ctx,
  pm: PmRow,
  held: Held[],
  busy: (vmId: string) => boolean,
): Promise<string[]> {
  const strays = held.filter((h) => ctx.store.get('vm', h.id)?.pmId !== pm.id)
  if (!strays.length) return []
  const unknown = strays.filter((h) => !ctx.store.get('vm', h.id)).map((h) => h.id)
  const deleted = unknown.length ? await deletedIds(ctx, unknown) : new Set<string>()
  const removed: string[] = []
  for (const h of strays) {
    if (ctx.locks.has(h.id) || busy(h.id)) continue
    if (!ctx.store.get('vm', h.id) && !deleted.has(h.id) && wasLost(ctx, h.id)) {
      if (await readopt(ctx, pm, h)) removed.push(h.id)
      else keep(ctx, pm, h)
      continue
    }
    if (!removable(ctx.store.get('vm', h.id), pm, h, deleted)) {
      keep(ctx, pm, h)
      continue
    }
    await withVmLock(ctx, h.id, async () => {
      // Re-read under the lock: the list is a moment old.
      const vm = ctx.store.get('vm', h.id)
      const why = busy(h.id) ? null : removable(vm, pm, h, deleted)
      if (!why || (vm && !(await homeHolds(ctx, vm, h)))) return keep(ctx, pm, h)
      // The node refuses if its copy moved past the version seen here (provider/commands.ts).
      await ctx.gateway.command(pm.nodeKey, 'vm.delete', { vmId: h.id, atMost: h.version })
      await ctx.store.write([
        eventOp(ctx.clock(), {
          origin: 'hub',
          type: 'vm.stray-removed',
          // Told to the provider only, and without where the machine went.
          message: `removed the copy of machine ${h.id} that ${pm.name} still held (version ${h.version}): ${why}`,
          users: [pm.owner],
          pmId: pm.id,
        }),
      ])
      removed.push(h.id)
    }).catch((err) => ctx.problem(`reconcile: removing ${h.id} from ${pm.name}`, err))
  }
  return removed
}

/** The node the market places `vm` on says it holds a copy at least as new as `h`. */
async function homeHolds(ctx: Ctx, vm: VmRow, h: Held): Promise<boolean> {
  const home = vm.pmId ? ctx.store.get('pm', vm.pmId) : undefined
  if (!home || !ctx.gateway.online(home.nodeKey)) return false
  const list = await ctx.gateway.command(home.nodeKey, 'vm.list', {}).catch(() => null)
  return Array.isArray(list) && list.some((c: Held | null) => c?.id === vm.id && c.version >= h.version)
}

/** Places a machine the market lost on this node, from its copy; false if that cannot be now. */
async function readopt(ctx: Ctx, pm: PmRow, h: Held): Promise<boolean> {
  return withVmLock(ctx, h.id, async () => {
    let copy = h
    // A copy a stale start left running stops first: the market takes machines back at rest.
    if (h.state === 'running') {
      const r = await ctx.gateway.command(pm.nodeKey, 'vm.stop', { vmId: h.id, version: h.version })
      copy = { ...h, state: 'stopped', version: r.version }
    }
    const ops = readoptOps(ctx, pm, copy)
    if (ops) await ctx.store.write(ops)
    return ops !== null
  }).catch((err) => {
    ctx.problem(`reconcile: taking back ${h.id} from ${pm.name}`, err)
    return false
  })
}

function keep(ctx: Ctx, pm: PmRow, h: Held): void {
  const seen = reported.get(ctx) ?? new Set<string>()
  reported.set(ctx, seen)
  const key = `${pm.id} ${h.id} ${h.version}`
  if (seen.has(key)) return
  seen.add(key)
  const vm = ctx.store.get('vm', h.id)
  const market = !vm ? 'the market has no such machine' : `the market holds it ${vm.state} at version ${vm.version}`
  ctx.problem(
    'reconcile',
    new Error(`${pm.name} holds machine ${h.id} at version ${h.version}, ${market}: kept (never the only copy lost)`),
  )
}
