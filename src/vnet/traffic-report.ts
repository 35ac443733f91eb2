// The node's side of the live traffic counters (issue 13, item 8): every few seconds, the counters of
// the guests' switch ports that changed since the hub last took them, at most MAX_PER_REPORT machines
// a report (the rest go next time), one report in flight at a time. A report that fails (the hub is
// away) is sent again next time with whatever changed since: counters only grow, so nothing is lost
// but the steps in between. The hub keeps them in memory (src/market/traffic.ts).
import { TRAFFIC_FIELDS, type VmTraffic } from '../market/traffic.ts'
import type { PortStats } from './switch.ts'

export const TRAFFIC_REPORT_MS = 3000
export const MAX_PER_REPORT = 128

/** A switch port's counters seen from its guest: what the port received, the guest sent. */
export function guestTraffic(vmId: string, s: PortStats): VmTraffic {
  return {
    vmId,
    sentFrames: s.rxFrames,
    sentBytes: s.rxBytes,
    recvFrames: s.txFrames,
    recvBytes: s.txBytes,
    dropped: s.spoofed + s.malformed + s.queueDrops,
  }
}

const same = (a: VmTraffic, b: VmTraffic) => TRAFFIC_FIELDS.every((f) => a[f] === b[f])

export interface TrafficReporterOptions {
  /** The guests' counters now. */
  read: () => VmTraffic[]
  /** Sends one report to the hub (control@1 node.vnet.traffic). */
  send: (params: { vms: VmTraffic[] }) => Promise<unknown>
  intervalMs?: number
  log?: (line: string) => void
}

export class TrafficReporter {
  /** What the hub took last, per machine. */
  private taken = new Map<string, VmTraffic>()
  private timer: NodeJS.Timeout | null = null
  private busy = false
  private failing = false

  constructor(private opts: TrafficReporterOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.intervalMs ?? TRAFFIC_REPORT_MS)
    this.timer.unref()
  }

  /** One report of what changed (tests call it directly). */
  async tick(): Promise<void> {
    if (this.busy) return
    const now = this.opts.read()
    const live = new Set(now.map((t) => t.vmId))
    for (const id of this.taken.keys()) if (!live.has(id)) this.taken.delete(id)
    const changed = now.filter((t) => !this.taken.has(t.vmId) || !same(this.taken.get(t.vmId)!, t))
    if (!changed.length) return
    const vms = changed.slice(0, MAX_PER_REPORT)
    this.busy = true
    try {
      await this.opts.send({ vms })
      for (const t of vms) this.taken.set(t.vmId, t)
      this.failing = false
    } catch (err) {
      // Said once per outage: the hub is away for a while or refuses, and the next tick retries.
      if (!this.failing) this.opts.log?.(`vnet: traffic report not taken: ${(err as Error).message}`)
      this.failing = true
    } finally {
      this.busy = false
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = null
  }
}
