// The hub's real migration agent (src/vmmp/agent.ts) in the simulation: its decisions (begin, tell
// origin and destination, commit or revert, abort at the destination, recover after a restart,
// settle what decided migrations owe the nodes) run unchanged; only its vmmp@1 link is the
// simulated network's, so QUERY and REQ -> RESP are messages whose fate the scheduler decides.
import type { Market } from '../../src/market/market.ts'
import { MigrationAgent, type VmmpLink } from '../../src/vmmp/agent.ts'
import type { SimNet } from './net.ts'

export function simAgent(market: Market, net: SimNet, runs: Map<string, Promise<void>>): MigrationAgent {
  const link: VmmpLink = {
    query: (nodeKey) => net.command(nodeKey, 'migration.query', {}),
    transfer: async (o) =>
      (await net.command(o.row.to.nodeKey, 'migration.copy', { migrationId: o.row.id, vmId: o.row.vmId })).version,
    // Never the same channel twice: every migrate QUERYs (a cache kept by wall-clock time would make
    // a replay depend on how fast it runs).
    current: () => ({}),
  }
  const agent = new MigrationAgent({
    market,
    gateway: net,
    hubKey: 'sim-hub',
    link,
    recoverWaitMs: 0,
    onRun: (id, run) => runs.set(id, run),
  })
  market.migrator = agent
  return agent
}

/** A buyer's migrate through the market, as the CLI does it; resolves when the run has ended. */
export async function migrate(
  market: Market,
  runs: Map<string, Promise<void>>,
  who: Parameters<Market['migrate']>[0],
  vmId: string,
  to: string,
): Promise<void> {
  const row = await market.migrate(who, { vmId, to, method: 'RSYNC' })
  await runs.get(row.id)
  runs.delete(row.id)
}
