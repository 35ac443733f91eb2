// The provider side of the buyers' networks: keeps one switch port per running guest that has a
// network card, following the hypervisor's changes (start, resume, a migration's arrival, stop,
// suspend, delete), and reports the guests' traffic counters to the hub (traffic-report.ts).
import type { Hypervisor } from '../hv/hypervisor.ts'
import type { HvVm } from '../hv/types.ts'
import { GuestPort } from './guest-port.ts'
import { Switch, type PortStats } from './switch.ts'
import type { VnetPeers } from './peers.ts'
import { VnetError, VNET_NO_HUB, VNET_NO_PORT } from './errors.ts'
import { nodeError } from '../net/errors.ts'
import { HV_NOT_SUPPORTED } from '../hv/errors.ts'
import { guestTraffic, TrafficReporter } from './traffic-report.ts'

export const JOIN_RETRY_MS = 1000
/** A membership is renewed when this share of its life has passed (peers drop us at its end). */
export const RENEW_AT = 0.8

export interface VnetServiceOptions {
  hv: Hypervisor
  switch?: Switch
  /** Default route handed to guests by DHCP (outbound NAT); null keeps networks closed. */
  router?: (net: string) => string | null
  log?: (line: string) => void
  /** Carries the networks to other providers (vnet@1); without it a network stays on this host. */
  peers?: VnetPeers
  /** How often the guests' changed traffic counters go to the hub (default TRAFFIC_REPORT_MS). */
  trafficReportMs?: number
}

export class VnetService {
  readonly sw: Switch
  private ports = new Map<string, GuestPort>()
  private onChange = (vm: HvVm) => void this.follow(vm)
  private onDelete = (id: string) => this.detach(id)
  private closed = false
  /** Network of each attached machine: a network is carried while one of its machines runs here. */
  private netOf = new Map<string, string>()
  private renewals = new Map<string, NodeJS.Timeout>()
  /** Asks the hub (control@1) for a membership; set once the provider agent exists. */
  hubRequest: ((method: string, params: unknown) => Promise<any>) | null = null
  private traffic: TrafficReporter

  constructor(private opts: VnetServiceOptions) {
    this.sw = opts.switch ?? new Switch()
    this.traffic = new TrafficReporter({
      read: () => [...this.ports.keys()].flatMap((id) => this.trafficOf(id)),
      send: (params) => {
        if (!this.hubRequest) throw new VnetError(VNET_NO_HUB, 'not connected to the hub yet')
        return this.hubRequest('node.vnet.traffic', params)
      },
      intervalMs: opts.trafficReportMs,
      log: opts.log,
    })
  }

  async start(): Promise<void> {
    this.traffic.start()
    this.opts.hv.on('change', this.onChange)
    this.opts.hv.on('delete', this.onDelete)
    for (const vm of await this.opts.hv.list()) await this.follow(vm)
  }

  /** The port of a machine once QEMU took its connection (tests, benchmarks). */
  async attached(vmId: string): Promise<void> {
    const p = this.ports.get(vmId)
    if (!p) throw new VnetError(VNET_NO_PORT, `machine ${vmId} has no port on the switch`)
    await p.connected
  }

  stats(vmId: string): PortStats | null {
    return this.sw.stats(vmId)
  }

  private trafficOf(vmId: string) {
    const s = this.sw.stats(vmId)
    return s ? [guestTraffic(vmId, s)] : []
  }

  private async follow(vm: HvVm): Promise<void> {
    const nic = vm.config.nic
    if (this.closed || !nic || vm.state !== 'running') return this.detach(vm.id)
    if (this.ports.has(vm.id)) return
    let path: string
    try {
      path = await this.opts.hv.nicSocket(vm.id)
    } catch (err) {
      // The in-memory test driver has no frames to carry; say so only for a real failure.
      if ((err as { code?: string }).code !== HV_NOT_SUPPORTED)
        this.opts.log?.(`machine ${vm.id}: no network card socket (${(err as Error).message})`)
      return
    }
    if (this.ports.has(vm.id) || this.closed) return
    const lease = { address: nic.address, prefix: nic.prefix, router: this.opts.router?.(nic.net) ?? null }
    const port = new GuestPort(this.sw, { id: vm.id, net: nic.net, mac: nic.mac, lease }, path, { log: this.opts.log })
    this.ports.set(vm.id, port)
    const first = ![...this.netOf.values()].includes(nic.net)
    this.netOf.set(vm.id, nic.net)
    if (first) void this.joinNet(nic.net)
  }

  private detach(id: string): void {
    const p = this.ports.get(id)
    if (!p) return
    this.ports.delete(id)
    p.close()
    const net = this.netOf.get(id)
    this.netOf.delete(id)
    if (net && ![...this.netOf.values()].includes(net)) {
      clearTimeout(this.renewals.get(net))
      this.renewals.delete(net)
      this.opts.peers?.leave(net)
    }
  }

  private carries(net: string): boolean {
    return !this.closed && [...this.netOf.values()].includes(net)
  }

  /** Gets the hub's membership of `net` for this provider and the other providers to carry it with. */
  private async joinNet(net: string, renewing = false): Promise<void> {
    const peers = this.opts.peers
    if (!peers) return
    while (this.carries(net)) {
      try {
        if (!this.hubRequest) throw new VnetError(VNET_NO_HUB, 'not connected to the hub yet')
        const r = await this.hubRequest('node.vnet.join', { net })
        if (!this.carries(net)) return
        if (renewing) peers.renew(net, r.membership)
        else peers.join(net, r.membership, r.peers)
        if (typeof r.expires === 'number') {
          clearTimeout(this.renewals.get(net))
          const t = setTimeout(
            () => void this.joinNet(net, true),
            Math.max(JOIN_RETRY_MS, (r.expires - Date.now()) * RENEW_AT),
          )
          t.unref()
          this.renewals.set(net, t)
        }
        return
      } catch (err) {
        this.opts.log?.(`vnet: joining network ${net.slice(0, 8)}: ${(err as Error).message}; retrying`)
        await new Promise((r) => setTimeout(r, JOIN_RETRY_MS))
      }
    }
  }

  /** Commands from the hub: 'vnet.peers' {net, peers} when the providers of a network change. */
  async command(method: string, params: unknown): Promise<unknown> {
    const p = (params ?? {}) as { net?: unknown; peers?: unknown }
    if (method !== 'vnet.peers') throw nodeError.unknownMethod(method)
    if (typeof p.net !== 'string' || !Array.isArray(p.peers))
      throw nodeError.badFrame('vnet.peers needs { net, peers }')
    this.opts.peers?.setPeers(
      p.net,
      p.peers.filter((x): x is string => typeof x === 'string'),
    )
    return {}
  }

  close(): void {
    this.closed = true
    this.traffic.close()
    for (const t of this.renewals.values()) clearTimeout(t)
    this.opts.hv.off('change', this.onChange)
    this.opts.hv.off('delete', this.onDelete)
    for (const id of [...this.ports.keys()]) this.detach(id)
    this.opts.peers?.close()
  }
}
