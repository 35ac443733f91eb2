// A provider loses a machine's disk (issue 11, the stray rule's gap): the node the market places a
// machine on no longer holds it. Preferably one with an older copy on another node (a release that
// never took effect), which is then the buyer's last copy: the market must take that copy back, never
// remove it. Recorded in `seen` so the invariants exempt the machine until the hub notices, and check
// at the end that a machine with a surviving copy is still the buyer's (or the buyer deleted it).
import type { Market } from '../../src/market/market.ts'
import type { Seen } from './invariants.ts'
import type { SimNet } from './net.ts'

export async function loseDisk(
  market: Market,
  net: SimNet,
  seen: Seen,
  r: () => number,
  count: (k: string) => void,
  /** Only these machines (the ones a stale release left a second copy of). */
  only?: Set<string>,
): Promise<void> {
  const busy = new Set([...market.openMigrations(), ...market.unsettledMigrations()].map((m) => m.vmId))
  const candidates: Array<{ id: string; pmId: string; others: number }> = []
  for (const vm of market.db.values('vm')) {
    if (only && !only.has(vm.id)) continue
    if (!vm.pmId || busy.has(vm.id) || market.ctx.locks.has(vm.id) || vm.state === 'migrating') continue
    const home = net.nodes.get(market.db.get('pm', vm.pmId)!.nodeKey)!
    const copy = await home.hv.get(vm.id).catch(() => null)
    if (!copy || copy.state === 'running') continue
    let others = 0
    for (const n of net.nodes.values()) if (n !== home && (await n.hv.get(vm.id).catch(() => null))) others++
    candidates.push({ id: vm.id, pmId: vm.pmId, others })
  }
  const withCopy = candidates.filter((c) => c.others > 0)
  // A machine of `only` that is settled and has no second copy left (reconciliation removed it) is done.
  for (const id of only ?? [])
    if (!busy.has(id) && !market.ctx.locks.has(id) && !withCopy.some((c) => c.id === id)) only!.delete(id)
  const pool = withCopy.length || only ? withCopy : candidates
  if (!pool.length) return
  const c = pool[Math.floor(r() * pool.length)]
  const home = net.nodes.get(market.db.get('pm', c.pmId)!.nodeKey)!
  await home.hv.delete(c.id)
  only?.delete(c.id)
  seen.lostOn.set(c.id, c.pmId)
  if (c.others > 0) seen.mustSurvive.add(c.id)
  else seen.mustSurvive.delete(c.id) // its last copy is gone: nothing to take back
  count(c.others > 0 ? 'disk.lost-with-copy' : 'disk.lost')
}
