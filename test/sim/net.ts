// The simulation's network and provider nodes: every hub -> node command waits in a queue until the
// scheduler decides its fate (delivered, lost before the node sees it, lost on the way back after
// the node acted, delivered twice, or left waiting while others overtake it). Nodes are real
// Hypervisors (test driver) running the real provider command code (src/provider/commands.ts).
import { SCP_TRANSPORT } from '../../src/vmmp/incoming.ts'
import { join } from 'node:path'
import { AsyncLocalStorage } from 'node:async_hooks'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import { vmCommand } from '../../src/provider/commands.ts'
import type { ProviderGateway } from '../../src/market/gateway.ts'
import { VirtuosoError } from '../../src/errors.ts'

export interface SimNode {
  key: string
  hv: Hypervisor
  online: boolean
  diskFull: boolean
  /** Answers 'migration.release' as done but keeps the copy (a cleanup lost for good: a node restored
   *  from a backup, a crash that undid it); the hub's reconciliation must find it (market/strays.ts). */
  staleRelease: boolean
  /** Guest exits not yet acknowledged by the hub (the agent resends them, src/provider/agent.ts). */
  exits: Map<string, number>
  /** Destination side of migrations (src/vmmp/destination.ts): what prepare-dest announced, by
   *  migration id, and which migration each arrived copy came with (its ARRIVED marker). */
  plans: Map<string, { vmId: string; version: number; config: any; suspended: boolean }>
  arrived: Map<string, string>
}

/** Which simulated operation is running: a message records its sender, so the scheduler knows when
 *  every operation is either finished or waiting for the network (and only then decides again). */
export const opContext = new AsyncLocalStorage<number>()

export interface Message {
  op: number | undefined
  node: SimNode
  method: string
  params: any
  resolve(v: unknown): void
  reject(e: unknown): void
  /** The hub generation that sent it: a restarted hub never hears old answers. */
  gen: number
}

const lost = (method: string) => new VirtuosoError('NODE_TIMEOUT', `${method}: no answer from the provider`)

export class SimNet implements ProviderGateway {
  queue: Message[] = []
  nodes = new Map<string, SimNode>()
  gen = 0
  /** Machines whose origin kept its copy at a release (staleRelease): where a lost disk hurts most. */
  staleCopies = new Set<string>()

  static async node(dir: string, key: string): Promise<SimNode> {
    const hv = await Hypervisor.open({ driver: 'test', dir: join(dir, key.slice(0, 8)) })
    return {
      key,
      hv,
      online: true,
      diskFull: false,
      staleRelease: false,
      exits: new Map(),
      plans: new Map(),
      arrived: new Map(),
    }
  }

  online(nodeKey: string): boolean {
    return this.nodes.get(nodeKey)?.online ?? false
  }

  command(nodeKey: string, method: string, params: object): Promise<any> {
    const node = this.nodes.get(nodeKey)
    if (!node?.online) return Promise.reject(new VirtuosoError('NODE_OFFLINE', `node ${nodeKey.slice(0, 8)} offline`))
    // The hub's speed test at pairing (src/market/connect-speed.ts) is answered at once, as the agent
    // does: only the set-up pairs nodes, and its measure decides nothing the invariants look at.
    if (method === 'net.speedtest')
      return Promise.resolve({ data: 'A'.repeat(Math.ceil(((params as { bytes: number }).bytes * 4) / 3)) })
    const op = opContext.getStore()
    return new Promise((resolve, reject) =>
      this.queue.push({ op, node, method, params, resolve, reject, gen: this.gen }),
    )
  }

  /** Carries out a message on its node as the provider agent would. */
  async apply(m: Message): Promise<{ ok: true; value: unknown } | { ok: false; error: unknown }> {
    try {
      if (m.method === 'vm.create' && m.node.diskFull)
        throw new VirtuosoError('HV_NO_SPACE', 'the provider disk is full')
      if (m.method.startsWith('migration.'))
        return { ok: true, value: await this.migration(m.node, m.method, m.params) }
      if (m.method === 'vm.list') return { ok: true, value: await m.node.hv.list() }
      return { ok: true, value: await vmCommand(m.node.hv, m.method, m.params) }
    } catch (error) {
      return { ok: false, error }
    }
  }

  /** A provider's migration commands (src/vmmp/server.ts) with the same rules about which copy each
   *  may touch; the copy itself ('migration.copy', the REQ -> RESP of the link) makes the machine
   *  arrive at version + 1 (report §7.1.5). */
  private async migration(node: SimNode, method: string, p: any): Promise<unknown> {
    const hv = node.hv
    switch (method) {
      case 'migration.query':
        return ['RSYNC', 'SCP']
      case 'migration.prepare-origin':
        return { sshHost: null, sshPort: 0 }
      case 'migration.prepare-dest':
        node.plans.set(p.migrationId, { vmId: p.vmId, version: p.version, config: p.config, suspended: p.suspended })
        return { scp: SCP_TRANSPORT }
      case 'migration.copy': {
        const plan = node.plans.get(p.migrationId)
        if (!plan) throw new VirtuosoError('VMMP_PROTOCOL', 'REQ for a migration this node was not told of')
        if (node.diskFull) throw new VirtuosoError('VMMP_NO_SPACE', 'the destination disk is full')
        const had = await hv.get(plan.vmId).catch(() => null)
        if (had && node.arrived.get(plan.vmId) === p.migrationId) return { version: had.version }
        if (had) throw new VirtuosoError('HV_EXISTS', `machine ${plan.vmId} is already registered here`)
        const vm = await hv.importVm(plan.vmId, plan.config, { version: plan.version + 1, suspended: plan.suspended })
        node.arrived.set(plan.vmId, p.migrationId)
        return { version: vm.version }
      }
      case 'migration.status': {
        const vm = await hv.get(p.vmId).catch(() => null)
        return { complete: !!vm && vm.version === p.version && node.arrived.get(p.vmId) === p.migrationId }
      }
      case 'migration.abort': {
        node.plans.delete(p.migrationId)
        if (node.arrived.get(p.vmId) !== p.migrationId) return { deleted: false, error: null }
        node.arrived.delete(p.vmId)
        await hv.delete(p.vmId).catch(() => {})
        return { deleted: true, error: null }
      }
      case 'migration.release': {
        if (p.committed !== true) return { cached: false }
        const vm = await hv.get(p.vmId).catch(() => null)
        // Already released, or not the copy that left (src/vmmp/origin.ts).
        if (!vm || vm.version !== p.version) return { cached: false }
        if (node.staleRelease) {
          this.staleCopies.add(p.vmId)
          return { cached: true }
        }
        if (vm.state === 'running') await hv.stop(p.vmId) // as src/vmmp/origin.ts does
        await hv.delete(p.vmId)
        return { cached: true }
      }
    }
    throw new VirtuosoError('NODE_UNKNOWN_METHOD', `unknown method "${method}"`)
  }

  /** Settles message `i` of the queue with the fate chosen by the scheduler. */
  async settle(i: number, fate: 'deliver' | 'lose-request' | 'lose-reply' | 'duplicate'): Promise<void> {
    const [m] = this.queue.splice(i, 1)
    const live = m.gen === this.gen && m.node.online
    if (fate === 'lose-request' || !live) return m.reject(lost(m.method))
    const r = await this.apply(m)
    if (fate === 'duplicate') await this.apply(m)
    if (fate === 'lose-reply') return m.reject(lost(m.method))
    if (r.ok) m.resolve(r.value)
    else m.reject(r.error)
  }

  /** A hub restart: answers to the old hub never arrive. */
  dropAll(): void {
    for (const m of this.queue.splice(0)) m.reject(lost(m.method))
  }
}
