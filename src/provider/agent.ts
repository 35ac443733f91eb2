// The provider agent: keeps a control@1 connection to the hub it pins (the market key), reports the
// host it runs on, and carries out the hub's commands with its Hypervisor. It takes commands from
// no one else: the channel exists only on the connection it dialed to the hub's key.
import { randomBytes } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type DHT from 'hyperdht'
import type { KeyPair, NoiseSocket } from 'hyperdht'
import Protomux from 'protomux'
import type { Hypervisor } from '../hv/hypervisor.ts'
import { RpcChannel } from '../net/rpc.ts'
import { vmCommand } from './commands.ts'
import { forgetRelays } from '../net/dht.ts'
import { nodeError } from '../net/errors.ts'
import { PROTOCOLS } from '../net/protocols.ts'
import { hashPairingCode } from '../market/pairing.ts'
import { EventLog, type ProviderEvent } from './event-log.ts'
import { MARKET_BAD_INPUT } from '../market/errors.ts'

/** How often the agent checks that the hub still answers, and how long it waits for it. */
export const PING_MS = 1000
export const PING_TIMEOUT_MS = 3000
/** A connection to the hub whose control@1 has not opened by then is redialed. */
export const OPEN_TIMEOUT_MS = 5000
/** Redial the hub at once, then after RETRY_MS doubling up to MAX_RETRY_MS: a restarted hub is
 *  announced again within a second or two, and the agent must be back within 5 s (issue 16). */
export const RETRY_MS = 100
export const MAX_RETRY_MS = 1000
/** How often running guests are checked for having powered off or crashed by themselves. */
export const EXIT_POLL_MS = 2000

/** Commands after which a machine's files stay as they are until it starts again. */
const AT_REST = new Set(['vm.create', 'vm.stop', 'vm.suspend'])

export interface ProviderOptions {
  dht: DHT
  keyPair: KeyPair
  marketKey: Buffer
  hv: Hypervisor
  pairingCode: string
  /** Wait between failed reconnection attempts; doubles up to maxRetryMs (RETRY_MS, MAX_RETRY_MS). */
  retryMs?: number
  maxRetryMs?: number
  log?: (line: string) => void
  /** Console service (src/console/service.ts): answers 'console.*' commands, adds SSH details to hello. */
  console?: {
    command(method: string, params: unknown): Promise<unknown>
    helloInfo(): object
    passwords?: { cryptHash(vmId: string): Promise<string | null> }
  }
  /** Migration server (src/vmmp/server.ts): vmmp@1 on the hub connection, 'migration.*' commands. */
  migration?: {
    attachHub(mux: Protomux): unknown
    command(method: string, params: unknown): Promise<unknown>
    /** A machine came to rest (stopped, suspended, stored) at this version: hash it ahead of a migration. */
    atRest?(vmId: string, version: number): void
  }
  exitPollMs?: number
  /** Images (src/provider/images.ts): 'image.*' commands, and the disk of a machine stored with one. */
  images?: {
    command(method: string, params: unknown): Promise<unknown>
    makeDisk(vmId: string, hdMb: number, digest: string): Promise<number>
  }
  /** What this provider saw, kept until the hub has it (src/provider/event-log.ts); in memory if not given. */
  events?: EventLog
  /** Buyers' networks (src/vnet/service.ts): 'vnet.*' commands. */
  vnet?: { command(method: string, params: unknown): Promise<unknown> }
  /** Install media (src/provider/media.ts): 'media.*' commands; a deleted machine's ISO is dropped. */
  media?: {
    command(method: string, params: unknown): Promise<unknown>
    forget(path: string | null | undefined): Promise<void>
  }
}

/** Events: 'hello' ({ pmId, offlineMs }) after every hello the hub answered (offlineMs: how long the
 *  agent was without a hub, 0 the first time); 'offline' when a connection that had said hello closes. */
export class ProviderAgent extends EventEmitter {
  private socket: NoiseSocket | null = null
  private control: RpcChannel | null = null
  private mux: Protomux | null = null
  private stopped = false
  private retry: number
  private retryTimer: NodeJS.Timeout | null = null
  private connectedOnce!: () => void
  /** Resolves at the first successful hello. */
  readonly connected: Promise<void>
  pmId: string | null = null
  /** Said hello at least once (the first hello is always logged: operators and tests wait for it). */
  private helloed = false
  /** Guest exits the hub has not acknowledged yet (vmId -> version after): resent until it has. */
  private exits = new Map<string, number>()
  private exitPoll: NodeJS.Timeout | null = null
  private flushing = false
  private offlineSince = 0
  readonly events: EventLog
  private sending = false

  constructor(private opts: ProviderOptions) {
    super()
    this.retry = 0
    this.connected = new Promise((resolve) => (this.connectedOnce = resolve))
    this.events = opts.events ?? EventLog.inMemory()
    for (const [id, version] of opts.hv.exits) this.exits.set(id, version)
    opts.hv.on('exit', (e: { id: string; version: number }) => {
      this.exits.set(e.id, e.version)
      this.opts.log?.(`machine ${e.id} stopped by itself (powered off or crashed); telling the hub`)
      void this.report({
        type: 'vm.exited',
        vmId: e.id,
        message: `machine ${e.id} stopped by itself (powered off or crashed)`,
      })
      void this.flushExits()
    })
    opts.hv.on('warning', (w: ProviderEvent) => {
      this.opts.log?.(w.message)
      void this.report(w)
    })
  }

  get nodeKey(): string {
    return this.opts.keyPair.publicKey.toString('hex')
  }

  start(): void {
    this.dial()
    this.exitPoll = setInterval(() => void this.pollExits(), this.opts.exitPollMs ?? EXIT_POLL_MS)
    this.exitPoll.unref()
  }

  async close(): Promise<void> {
    this.stopped = true
    if (this.exitPoll) clearInterval(this.exitPoll)
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.socket?.destroy()
  }

  private dial(): void {
    if (this.stopped) return
    const socket = this.opts.dht.connect(this.opts.marketKey, { keyPair: this.opts.keyPair })
    this.socket = socket
    socket.setKeepAlive(5000)
    socket.on('error', () => {})
    let helloed = false
    socket.on('close', () => {
      this.control = null
      this.mux = null
      if (helloed) {
        this.offlineSince = Date.now()
        this.emit('offline')
        forgetRelays(this.opts.dht, this.opts.marketKey) // the hub may come back through other nodes
      }
      if (this.stopped) return
      this.retryTimer = setTimeout(() => this.dial(), this.retry)
      this.retry = Math.min(
        Math.max(this.retry * 2, this.opts.retryMs ?? RETRY_MS),
        this.opts.maxRetryMs ?? MAX_RETRY_MS,
      )
    })
    const mux = Protomux.from(socket)
    const control = new RpcChannel(mux, {
      protocol: PROTOCOLS.control,
      handler: (method, params) => this.onCommand(method, params),
    })
    this.opts.migration?.attachHub(mux)
    // Kept for a hub whose NAT setting is wrong (see net/dht.ts): a connection whose channel never
    // opens is dropped and redialed, as a dead one is. On loopback it never fired in the benchmarks.
    const stuck = setTimeout(() => socket.destroy(), OPEN_TIMEOUT_MS)
    socket.once('close', () => clearTimeout(stuck))
    control.opened
      .then(async () => {
        clearTimeout(stuck)
        const info = { ...(await this.opts.hv.info()), ...this.opts.console?.helloInfo() }
        const res = await control.request<{ pmId: string | null }>('node.hello', {
          info,
          pairingCodeHash: hashPairingCode(this.opts.pairingCode),
        })
        this.control = control
        this.mux = mux
        this.retry = 0
        helloed = true
        const offlineMs = this.offlineSince ? Date.now() - this.offlineSince : 0
        if (this.offlineSince) this.opts.log?.(`back on the hub after ${offlineMs} ms without it`)
        this.offlineSince = 0
        if (res.pmId !== this.pmId || !this.helloed)
          this.opts.log?.(
            res.pmId
              ? `bound to the market as physical machine ${res.pmId}`
              : 'connected to the hub; not yet added to a provider account',
          )
        this.pmId = res.pmId
        this.helloed = true
        this.connectedOnce()
        this.emit('hello', { pmId: res.pmId, offlineMs })
        this.watchHub(control, socket)
        // What the provider saw first, then the exits the hub acts on (its own events follow them).
        void this.flushEvents().then(() => this.flushExits())
      })
      .catch((err) => {
        this.opts.log?.(`hub refused this node: ${(err as Error).message}`)
        socket.destroy()
      })
  }

  /** A hub killed with SIGKILL leaves this connection silent for about a minute before HyperDHT
   *  notices (measured). Pinging it every PING_MS and giving up after PING_TIMEOUT_MS closes the
   *  connection within seconds, so a migration in flight stops and the agent redials. */
  private watchHub(control: RpcChannel, socket: NoiseSocket): void {
    const timer = setInterval(() => {
      control.request('node.ping', {}, { timeoutMs: PING_TIMEOUT_MS }).catch(() => socket.destroy())
    }, PING_MS)
    timer.unref()
    socket.once('close', () => clearInterval(timer))
  }

  /** Asks the hypervisor about every running guest: one found off raises 'exit' (see above). */
  private async pollExits(): Promise<void> {
    const hv = this.opts.hv
    try {
      for (const vm of await hv.list()) if (vm.state === 'running') await hv.refresh(vm.id).catch(() => {})
    } catch {
      return // closed meanwhile
    }
    void this.flushExits()
  }

  /** Reports pending exits; the hub answers `retry` while the machine is busy there (a migration). */
  private async flushExits(): Promise<void> {
    const control = this.control
    if (!control || this.flushing || this.exits.size === 0) return
    this.flushing = true
    try {
      for (const [vmId, version] of [...this.exits]) {
        const res = await control.request<{ retry?: boolean }>('node.vm.exited', { vmId, version })
        if (!res?.retry && this.exits.get(vmId) === version) this.exits.delete(vmId)
      }
    } catch (err) {
      this.opts.log?.(`could not report a guest exit to the hub yet: ${(err as Error).message}; will retry`)
    } finally {
      this.flushing = false
    }
  }

  private async onCommand(method: string, params: unknown): Promise<unknown> {
    const p = (params ?? {}) as any
    const hv = this.opts.hv
    if (method.startsWith('console.') && this.opts.console) return this.opts.console.command(method, params)
    if (method.startsWith('migration.') && this.opts.migration) return this.opts.migration.command(method, params)
    if (method.startsWith('image.') && this.opts.images) return this.opts.images.command(method, params)
    if (method.startsWith('vnet.') && this.opts.vnet) return this.opts.vnet.command(method, params)
    if (method.startsWith('media.') && this.opts.media) return this.opts.media.command(method, params)
    if (method === 'info') return hv.info()
    // connectspeed: the hub times a few of these answers at pairing (src/market/connect-speed.ts).
    if (method === 'net.speedtest') return { data: randomBytes(speedtestBytes(params)).toString('base64') }
    if (method === 'vm.list') return hv.list()
    const images = this.opts.images
    const media = this.opts.media
    const consoles = this.opts.console
    const r = await vmCommand(hv, method, p, {
      ...(consoles?.passwords ? { guestPasswordHash: (id: string) => consoles.passwords!.cryptHash(id) } : {}),
      ...(images ? { makeDisk: (id: string, hd: number, digest: string) => images.makeDisk(id, hd, digest) } : {}),
      ...(media ? { forgetMedia: (path: string | null | undefined) => media.forget(path) } : {}),
    })
    const version = (r as { version?: unknown } | null)?.version
    if (AT_REST.has(method) && typeof version === 'number') this.opts.migration?.atRest?.(p.vmId, version)
    return r
  }

  /** The connection to the hub while it is up (the hub serves catalog images over it). */
  get hubMux(): Protomux | null {
    return this.mux
  }

  /** Progress of an image arriving for a machine being stored (the hub shows it on the machine). */
  progress(vmId: string, done: number, total: number): void {
    this.control?.request('node.progress', { vmId, done, total }).catch(() => {})
  }

  /** A request to the hub on control@1 (e.g. node.vnet.join); fails while the hub is not connected. */
  async request<T = unknown>(method: string, params: unknown): Promise<T> {
    if (!this.control) throw nodeError.closed(`asking the hub for ${method}`)
    return this.control.request<T>(method, params)
  }

  /** Tell the hub something happened here (a guest powered itself off, …) for its event log. It is
   *  kept in the local log first (resolves once written), and sent in order when the hub answers. */
  async report(event: ProviderEvent): Promise<void> {
    await this.events.append(event)
    void this.flushEvents()
  }

  /** Sends what the hub has not acknowledged, oldest first; stops at the first failure (the rest
   *  waits for the next hello or report). The hub takes an event again as a no-op (epoch + seq). */
  private async flushEvents(): Promise<void> {
    if (this.sending) return
    this.sending = true
    try {
      for (;;) {
        const control = this.control
        const e = this.events.pending()[0]
        if (!control || !e) return
        try {
          await control.request('node.event', { ...e, epoch: this.events.epoch })
        } catch (err) {
          // Only an event the hub can never take (malformed) is dropped; anything else waits.
          if ((err as { code?: string }).code !== MARKET_BAD_INPUT) return
          this.opts.log?.(`the hub refused event ${e.seq} (${e.type}): ${(err as Error).message}; dropped`)
        }
        await this.events.ack(e.seq)
      }
    } finally {
      this.sending = false
    }
  }
}

/** Bytes asked for by a speed test, at most 1 MiB per answer. */
function speedtestBytes(params: unknown): number {
  const n = (params as { bytes?: unknown } | null)?.bytes
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? Math.min(n, 1 << 20) : 0
}
