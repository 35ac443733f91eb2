// Live per-machine traffic counters (issue 13, item 8): each provider's switch counts the frames and
// bytes of every guest's network card and its node reports the changed ones every few seconds
// (src/vnet/traffic-report.ts). They live in memory only: values that change every few seconds are
// no market record, and writing them would flood the change feed. A node's counters are taken only
// for machines the market places on that node's provider machine; a machine's owner sees its own,
// a provider those of the machines it hosts, nobody else anything.
import type { Ctx } from './context.ts'
import { requireUser } from './context.ts'
import { errors } from './errors.ts'
import type { Identity } from './types.ts'

/** Machines one report may carry (a node sends the rest in its next report). */
export const MAX_TRAFFIC_ENTRIES = 256
/** Rows of deleted machines are dropped at least this often (and at every read). */
const PRUNE_MS = 60_000
export const TRAFFIC_FIELDS = ['sentFrames', 'sentBytes', 'recvFrames', 'recvBytes', 'dropped'] as const

/** Counted at the provider's switch port, seen from the guest; they start at 0 when the guest's
 *  card attaches on a provider (a start, a resume, a migration's arrival). */
export type GuestTraffic = Record<(typeof TRAFFIC_FIELDS)[number], number>

/** What a node reports for one machine. */
export type VmTraffic = GuestTraffic & { vmId: string }

export interface TrafficRow extends VmTraffic {
  /** Bytes per second between the last two reports; null after the first or after the counters restarted. */
  sentRate: number | null
  recvRate: number | null
  /** When the hub got the values (ms). */
  at: number
}

export class TrafficTable {
  private rows = new Map<string, TrafficRow>()
  private pruned = 0

  constructor(private ctx: Ctx) {}

  /** A node's report: { vms: [{ vmId, ...GuestTraffic }] }. Answers how many it took. */
  report(nodeKey: string, params: unknown): { taken: number; ignored: number } {
    const vms = (params as { vms?: unknown } | null)?.vms
    if (!Array.isArray(vms) || vms.length > MAX_TRAFFIC_ENTRIES)
      throw errors.badInput('traffic', `give { vms: [...] } with at most ${MAX_TRAFFIC_ENTRIES} machines`)
    const now = this.ctx.clock()
    if (now - this.pruned > PRUNE_MS) this.prune(now)
    let taken = 0
    for (const e of vms) {
      const entry = parseEntry(e)
      if (!entry) throw errors.badInput('traffic', 'each machine needs vmId and whole, non-negative counters')
      const vm = this.ctx.store.get('vm', entry.vmId)
      const pm = vm?.pmId ? this.ctx.store.get('pm', vm.pmId) : undefined
      // A machine elsewhere (migrated away, deleted): the node's last word about it is stale.
      if (!pm || pm.nodeKey !== nodeKey) continue
      const old = this.rows.get(entry.vmId)
      const rate = (f: 'sentBytes' | 'recvBytes') =>
        old && old[f] <= entry[f] && now > old.at ? Math.round(((entry[f] - old[f]) * 1000) / (now - old.at)) : null
      this.rows.set(entry.vmId, { ...entry, sentRate: rate('sentBytes'), recvRate: rate('recvBytes'), at: now })
      taken++
    }
    return { taken, ignored: vms.length - taken }
  }

  /** What `who` may see: a buyer its machines', a provider the machines on its provider machines. */
  visible(who: Identity | null): TrafficRow[] {
    const me = requireUser(who)
    this.prune(this.ctx.clock())
    const out: TrafficRow[] = []
    for (const [vmId, row] of this.rows) {
      const vm = this.ctx.store.get('vm', vmId)!
      const pm = vm.pmId ? this.ctx.store.get('pm', vm.pmId) : undefined
      if (me.type === 'buyer' ? vm.owner === me.username : pm?.owner === me.username) out.push({ ...row })
    }
    return out.sort((a, b) => a.vmId.localeCompare(b.vmId))
  }

  private prune(now: number): void {
    this.pruned = now
    for (const vmId of this.rows.keys()) if (!this.ctx.store.get('vm', vmId)) this.rows.delete(vmId)
  }
}

function parseEntry(e: unknown): VmTraffic | null {
  if (!e || typeof e !== 'object') return null
  const r = e as Record<string, unknown>
  if (typeof r.vmId !== 'string' || r.vmId.length === 0 || r.vmId.length > 64) return null
  const out = { vmId: r.vmId } as VmTraffic
  for (const f of TRAFFIC_FIELDS) {
    const v = r[f]
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return null
    out[f] = v
  }
  return out
}
