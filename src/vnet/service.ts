// The provider side of the buyers' networks: keeps one switch port per running guest that has a
// network card, following the hypervisor's changes (start, resume, a migration's arrival, stop,
// suspend, delete), and reports per-machine traffic counters.
import type { Hypervisor } from '../hv/hypervisor.ts'
import type { HvVm } from '../hv/types.ts'
import { GuestPort } from './guest-port.ts'
import { Switch, type PortStats } from './switch.ts'

export interface VnetServiceOptions {
  hv: Hypervisor
  switch?: Switch
  /** Default route handed to guests by DHCP (outbound NAT); null keeps networks closed. */
  router?: (net: string) => string | null
  log?: (line: string) => void
}

export class VnetService {
  readonly sw: Switch
  private ports = new Map<string, GuestPort>()
  private onChange = (vm: HvVm) => void this.follow(vm)
  private onDelete = (id: string) => this.detach(id)
  private closed = false

  constructor(private opts: VnetServiceOptions) {
    this.sw = opts.switch ?? new Switch()
  }

  async start(): Promise<void> {
    this.opts.hv.on('change', this.onChange)
    this.opts.hv.on('delete', this.onDelete)
    for (const vm of await this.opts.hv.list()) await this.follow(vm)
  }

  /** The port of a machine once QEMU took its connection (tests, benchmarks). */
  async attached(vmId: string): Promise<void> {
    const p = this.ports.get(vmId)
    if (!p) throw new Error(`machine ${vmId} has no port on the switch`)
    await p.connected
  }

  stats(vmId: string): PortStats | null {
    return this.sw.stats(vmId)
  }

  private async follow(vm: HvVm): Promise<void> {
    const nic = vm.config.nic
    if (this.closed || !nic || vm.state !== 'running') return this.detach(vm.id)
    if (this.ports.has(vm.id)) return
    let path: string
    try {
      path = await this.opts.hv.nicSocket(vm.id)
    } catch (err) {
      this.opts.log?.(`machine ${vm.id}: no network card socket (${(err as Error).message})`)
      return
    }
    if (this.ports.has(vm.id) || this.closed) return
    const lease = { address: nic.address, prefix: nic.prefix, router: this.opts.router?.(nic.net) ?? null }
    this.ports.set(vm.id, new GuestPort(this.sw, { id: vm.id, net: nic.net, mac: nic.mac, lease }, path))
  }

  private detach(id: string): void {
    const p = this.ports.get(id)
    if (!p) return
    this.ports.delete(id)
    p.close()
  }

  close(): void {
    this.closed = true
    this.opts.hv.off('change', this.onChange)
    this.opts.hv.off('delete', this.onDelete)
    for (const id of [...this.ports.keys()]) this.detach(id)
  }
}
