// What must hold after every step of the simulation (issue 11, "Proof"). Returns the first
// violation as one line, or null.
import type { Market } from '../../src/market/market.ts'
import type { Ctx } from '../../src/market/context.ts'
import type { SimNet } from './net.ts'

export interface Seen {
  versions: Map<string, number>
  /** Machines with a refused or unanswered action the buyer will retry: their node may lag. */
  retry: Set<string>
  /** Machines seen with their node one version ahead (a lost answer, not yet resent). */
  drift: Set<string>
  /** Machines seen with an older second copy left by a lost release (removed by reconciliation). */
  strays: Set<string>
  /** The event log read so far: each check reads only what was appended since (it was reading the
   *  whole log after every step, the largest part of a run's time in a profile). */
  /** `chosen`: deletions a buyer or an eviction decided (not a drop because the node lost the machine). */
  events: { seq: number; warned: Map<string, Set<string>>; deleted: Set<string>; chosen: Set<string> }
  /** Machines whose disk the simulation took from the node the market placed them on (lose-disk.ts). */
  lostOn: Map<string, string>
  /** Of those, the ones another node still held a copy of: the buyer must not lose them. */
  mustSurvive: Set<string>
}

export const newSeen = (): Seen => ({
  versions: new Map(),
  retry: new Set(),
  drift: new Set(),
  strays: new Set(),
  events: { seq: 0, warned: new Map(), deleted: new Set(), chosen: new Set() },
  lostOn: new Map(),
  mustSurvive: new Set(),
})

const NODE_STATES: Record<string, string[]> = {
  stored: ['registered', 'stopped'],
  stopped: ['stopped', 'registered'],
  started: ['running'],
  suspended: ['suspended'],
}

export async function checkInvariants(
  market: Market,
  net: SimNet,
  seen: Seen,
  expectedRoom: (ctx: Ctx, pmId: string) => { speed: number; memory: number; storage: number },
  /** At the end of a run, once quiet: nothing may lag (no retry pending, no lost answer unresolved). */
  strict = false,
): Promise<string | null> {
  const a = await market.audit()
  if (!a.ok) return `money: balances ${a.balances} != deposits ${a.deposits}`
  for (const u of market.db.values('users')) if (u.balance < 0) return `negative balance: ${u.username} ${u.balance}`
  for (const pm of market.db.values('pm')) {
    const want = expectedRoom(market.ctx, pm.id)
    const got = { speed: pm.usedSpeed, memory: pm.usedMemory, storage: pm.usedStorage }
    if (JSON.stringify(want) !== JSON.stringify(got))
      return `pm ${pm.name} used ${JSON.stringify(got)} != its machines ${JSON.stringify(want)}`
  }
  const { warned, deleted } = seen.events
  for (const e of await market.db.range('events', { after: seen.events.seq })) {
    if (e.seq !== seen.events.seq + 1) return `event log gap: seq ${e.seq} after ${seen.events.seq}`
    seen.events.seq = e.seq
    // No disk is deleted for unpaid storage before both warnings (src/market/unpaid.ts).
    if (e.vmId && (e.type === 'vm.storage-unpaid' || e.type === 'vm.storage-overdue'))
      warned.set(e.vmId, new Set([...(warned.get(e.vmId) ?? []), e.type]))
    if (e.vmId && e.type === 'vm.storage-paid') warned.delete(e.vmId)
    if (e.vmId && e.type === 'vm.delete') deleted.add(e.vmId)
    if (e.vmId && e.type === 'vm.delete' && !/no longer holds it/.test(e.message)) seen.events.chosen.add(e.vmId)
    // Taken back from an older copy after its newer one was lost (market/lost-copies.ts): its version
    // is that copy's, lower than before; the node agrees (checked below).
    if (e.vmId && e.type === 'vm.readopted') seen.versions.delete(e.vmId)
    if (e.vmId && e.type === 'vm.delete' && /evicted by its provider/.test(e.message) && warned.get(e.vmId)?.size !== 2)
      return `machine ${e.vmId.slice(0, 8)} evicted without both unpaid-storage warnings first`
  }
  for (const vm of market.db.values('vm')) {
    const before = seen.versions.get(vm.id) ?? 0
    if (vm.version < before) return `machine ${vm.id.slice(0, 8)} version went back ${before} -> ${vm.version}`
    seen.versions.set(vm.id, vm.version)
  }
  // One live copy, in sync: where the market says a machine is, its node holds it at its version.
  const busy = new Set(market.openMigrations().map((m) => m.vmId))
  for (const m of market.unsettledMigrations()) busy.add(m.vmId)
  for (const vm of market.db.values('vm')) {
    if (vm.state === 'registered' || vm.state === 'migrating' || busy.has(vm.id)) continue
    if (!strict && (seen.retry.has(vm.id) || market.ctx.locks.has(vm.id))) continue
    const node = net.nodes.get(market.db.get('pm', vm.pmId!)!.nodeKey)!
    if (!strict && [...net.nodes.values()].some((n) => n.exits.has(vm.id))) continue
    if (!strict && seen.lostOn.get(vm.id) === vm.pmId) continue // its disk is gone: the hub finds out
    const copy = await node.hv.get(vm.id).catch(() => null)
    if (!copy) return `machine ${vm.id.slice(0, 8)} (${vm.state}) is missing on its node`
    // A command whose answer was lost leaves the node one step ahead until the hub sends it again
    // (billing's suspend retries by itself; the node answers the repeat as done): counted, not a
    // violation. Anything else (behind, two ahead, another state at the same version) is.
    if (copy.version === vm.version + 1 && !strict) {
      seen.drift.add(vm.id)
      continue
    }
    if (copy.version !== vm.version || !NODE_STATES[vm.state]?.includes(copy.state))
      return `machine ${vm.id.slice(0, 8)}: market ${vm.state} v${vm.version}, node ${copy.state} v${copy.version}`
    for (const other of net.nodes.values()) {
      const second = other === node ? null : await other.hv.get(vm.id).catch(() => null)
      if (!second) continue
      // An older copy left by a release that never took effect waits for reconciliation: counted
      // until the end, where none may be left. A newer one, or any at the end, is a violation.
      if (!strict && second.version <= vm.version) {
        seen.strays.add(vm.id)
        continue
      }
      return `machine ${vm.id.slice(0, 8)} has a second copy on node ${other.key.slice(0, 8)} (v${second.version})`
    }
  }
  if (strict)
    for (const id of seen.mustSurvive)
      if (!market.db.get('vm', id) && !seen.events.chosen.has(id))
        return `machine ${id.slice(0, 8)} is gone: its disk was lost and its other copy was not taken back`
  return strict ? strayLeft(market, net, deleted) : null
}

/** At the end: no node may still hold a copy that the rule of market/strays.ts removes (the market
 *  places the machine on another node at a version at least the copy's, or deleted it). */
async function strayLeft(market: Market, net: SimNet, deleted: Set<string>): Promise<string | null> {
  for (const pm of market.db.values('pm')) {
    const node = net.nodes.get(pm.nodeKey)
    for (const copy of node ? await node.hv.list() : []) {
      const vm = market.db.get('vm', copy.id)
      const elsewhere = vm?.pmId && vm.pmId !== pm.id && vm.state !== 'migrating' && vm.version >= copy.version
      if (elsewhere || (!vm && deleted.has(copy.id)))
        return `node of ${pm.name} still holds machine ${copy.id.slice(0, 8)} v${copy.version}: ${vm ? 'placed elsewhere' : 'deleted'}`
    }
  }
  return null
}
