// The hub's migration agent as the simulation runs it (the steps and decisions of src/vmmp/agent.ts,
// with the copy as one message to the destination): begin, copy, then commit or revert through the
// real market rules; after a hub restart, recover; settle what decided migrations owe the nodes.
import type { Market } from '../../src/market/market.ts'
import type { Identity } from '../../src/market/types.ts'
import { errorInfo } from '../../src/errors.ts'
import type { SimNet } from './net.ts'

export async function migrate(
  market: Market,
  net: SimNet,
  who: Identity,
  vmId: string,
  to: string,
  _clock: { t: number },
): Promise<void> {
  const m = await market.beginMigration(who, { vmId, to, method: 'RSYNC' })
  const vm = market.db.get('vm', vmId)!
  const config = { memory: vm.memory, hd: vm.hd, speed: vm.speed, os: vm.os }
  try {
    const res = await net.command(m.to.nodeKey, 'migration.copy', {
      vmId,
      version: m.version,
      config,
      suspended: m.prevState === 'suspended',
    })
    await market.commitMigration(m.id, res.version)
  } catch (err) {
    if (market.getMigration(m.id).phase === 'committed') throw err
    const aborted = await net.command(m.to.nodeKey, 'migration.abort', { vmId }).then(
      () => true,
      () => false,
    )
    await market.revertMigration(m.id, errorInfo(err))
    if (aborted) await market.migrationSettled(m.id, { destCleaned: true })
    return
  }
  await settleMigrations(market, net)
}

/** After a hub restart: the destination holds the machine complete at version + 1 -> commit, else revert. */
export async function recover(market: Market, net: SimNet, id: string): Promise<void> {
  const m = market.getMigration(id)
  const dest = net.nodes.get(m.to.nodeKey)
  const there = dest?.online ? await dest.hv.get(m.vmId).catch(() => null) : null
  if (there && there.version === m.version + 1) await market.commitMigration(id, m.version + 1)
  else await market.revertMigration(id, { code: 'VMMP_ABORTED', message: 'the hub restarted during the migration' })
}

/** What decided migrations still owe the nodes: the origin drops its copy after a commit, the
 *  destination after a revert. Nodes that are offline are settled on a later pass. */
export async function settleMigrations(market: Market, net: SimNet): Promise<void> {
  for (const m of market.unsettledMigrations()) {
    const from = net.nodes.get(m.from.nodeKey)!
    const to = net.nodes.get(m.to.nodeKey)!
    if (!m.originReleased && (m.phase === 'failed' || from.online)) {
      // Only a committed machine leaves its origin; a failed one stays there, untouched.
      if (m.phase === 'committed' && (await holdsOther(market, m.vmId, m.from.pmId))) {
        await from.hv.delete(m.vmId).catch(() => {})
      }
      await market.migrationSettled(m.id, { originReleased: true })
    }
    if (m.phase === 'failed' && !m.destCleaned && to.online) {
      if (await holdsOther(market, m.vmId, m.to.pmId)) await to.hv.delete(m.vmId).catch(() => {})
      await market.migrationSettled(m.id, { destCleaned: true })
    }
  }
}

/** True when the market has the machine somewhere other than `pmId` (or not at all). */
async function holdsOther(market: Market, vmId: string, pmId: string): Promise<boolean> {
  const vm = market.db.get('vm', vmId)
  return !vm || vm.pmId !== pmId
}
