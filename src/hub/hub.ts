// The hub (the report's "front-end"): serves market@1 to clients, control@1 to provider nodes,
// replica@1 (the change feed) to both, and the admin socket to the operator; runs the billing,
// price and drain daemons. It owns the Market and is the only writer of its tables.
import type DHT from 'hyperdht'
import type { KeyPair, NoiseSocket, Server } from 'hyperdht'
import Protomux from 'protomux'
import type { Server as NetServer } from 'node:net'
import { Market } from '../market/market.ts'
import { methods, adminMethods } from './methods.ts'
import type { ProviderGateway } from '../market/gateway.ts'
import { RpcChannel } from '../net/rpc.ts'
import { nodeError } from '../net/errors.ts'
import { serveAdmin } from './admin-socket.ts'
import { snapshotAdminCall } from './export-file.ts'
import { ReplicaServer } from './replica-server.ts'
import { PROTOCOLS } from '../net/protocols.ts'
import { consoleMethods } from '../console/hub.ts'
import { MigrationAgent } from '../vmmp/agent.ts'
import { serveBlocks } from '../vmmp/blocks.ts'
import type { ImageStore } from '../vmmp/image-store.ts'
import { addImageFile, type ImageServeFaults } from './images.ts'
import { VnetHub } from '../vnet/hub.ts'
import { tunnelMethods } from '../vnet/tunnel-hub.ts'
import { ClientLimits, type ClientLimitOptions } from './client-limits.ts'

export interface HubOptions {
  dir: string
  dht: DHT
  keyPair: KeyPair
  clock?: () => number
  /** How often due charges are made (storage and running periods start on time, to this precision). */
  billingIntervalMs?: number
  reconcileIntervalMs?: number
  /** How often market-average prices are recomputed (report §6.1.9: 60 s). */
  priceIntervalMs?: number
  /** How long the hub waits for a provider to carry out a command (booting under TCG takes seconds). */
  commandTimeoutMs?: number
  log?: (line: string) => void
  /** Migration: how long the agent waits for a HEARTBEAT before reverting (default 5 s). */
  heartbeatWindowMs?: number
  /** The node's image store: catalog images the operator adds, served to provider nodes over blocks@1. */
  images?: ImageStore
  /** Fault injection for tests: how the hub serves image blocks. */
  imageFaults?: ImageServeFaults
  /** Rate limits, password-hash gate and in-flight cap for clients (client-limits.ts defaults). */
  limits?: ClientLimitOptions
  /** scrypt N for account passwords (default 2^17; tests and the demo pass a low one, `--scrypt-cost`). */
  scryptN?: number
}

export const DEFAULT_BILLING_INTERVAL_MS = 1000
/** How often the hub compares what nodes hold with the market (after a hello too). */
export const DEFAULT_RECONCILE_INTERVAL_MS = 30_000
export const RECONCILE_AFTER_HELLO_MS = 2000
export const DEFAULT_PRICE_INTERVAL_MS = 60_000
export const DEFAULT_COMMAND_TIMEOUT_MS = 120_000

export class Hub implements ProviderGateway {
  market!: Market
  private server: Server | null = null
  private admin: NetServer | null = null
  private nodes = new Map<string, RpcChannel>()
  /** Where each node's control connection came from (the UDP peer address HyperDHT saw). */
  private nodeHosts = new Map<string, string>()
  private sockets = new Set<NoiseSocket>()
  private timers: NodeJS.Timeout[] = []
  private replica!: ReplicaServer
  private closing = false
  migrations!: MigrationAgent
  private vnet!: VnetHub
  readonly limits: ClientLimits

  constructor(private opts: HubOptions) {
    this.limits = new ClientLimits(opts.limits)
  }

  get publicKey(): Buffer {
    return this.opts.keyPair.publicKey
  }

  async start(): Promise<void> {
    this.market = await Market.open({
      dir: this.opts.dir,
      gateway: this,
      clock: this.opts.clock,
      scryptN: this.opts.scryptN,
    })
    this.market.on('problem', (p: { what: string; error: unknown }) =>
      this.opts.log?.(`${p.what}: ${(p.error as Error)?.message ?? String(p.error)}`),
    )
    this.replica = new ReplicaServer(this.market)
    this.migrations = new MigrationAgent({
      market: this.market,
      gateway: this,
      hubKey: this.publicKey.toString('hex'),
      heartbeatWindowMs: this.opts.heartbeatWindowMs,
      log: this.opts.log,
    })
    this.market.migrator = this.migrations
    this.vnet = new VnetHub({
      market: this.market,
      secretKey: this.opts.keyPair.secretKey,
      command: (nodeKey, method, params) => this.command(nodeKey, method, params as object),
    })
    await this.runDaemon('billing', () => this.market.billingPass())
    this.server = this.opts.dht.createServer((socket) => this.onConnection(socket))
    await this.server.listen(this.opts.keyPair)
    this.admin = await serveAdmin(this.opts.dir, (method, params) => this.adminCall(method, params))
    this.every(this.opts.billingIntervalMs ?? DEFAULT_BILLING_INTERVAL_MS, 'billing', () => this.market.billingPass())
    this.every(this.opts.billingIntervalMs ?? DEFAULT_BILLING_INTERVAL_MS, 'drain', () => this.market.drainPass())
    this.every(this.opts.priceIntervalMs ?? DEFAULT_PRICE_INTERVAL_MS, 'prices', () => this.market.pricePass())
    this.every(this.opts.reconcileIntervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS, 'reconcile', () =>
      this.market.reconcilePass(),
    )
    await this.runDaemon('prices', () => this.market.pricePass())
    this.migrations.startDaemon() // resolves migrations a previous run left open
  }

  async close(): Promise<void> {
    this.closing = true
    for (const t of this.timers) clearInterval(t)
    this.migrations?.close()
    this.replica?.close()
    for (const s of this.sockets) s.destroy()
    await this.server?.close()
    await new Promise<void>((resolve) => (this.admin ? this.admin.close(() => resolve()) : resolve()))
    await this.market?.close()
  }

  // --- ProviderGateway: how the market reaches provider nodes ---
  online(nodeKey: string): boolean {
    return this.nodes.has(nodeKey)
  }

  observedHost(nodeKey: string): string | null {
    return this.nodes.has(nodeKey) ? (this.nodeHosts.get(nodeKey) ?? null) : null
  }

  async command(nodeKey: string, method: string, params: object, opts: { timeoutMs?: number } = {}): Promise<any> {
    const ch = this.nodes.get(nodeKey)
    if (!ch) throw nodeError.offline(`provider node ${nodeKey.slice(0, 8)}`)
    const timeoutMs = opts.timeoutMs ?? this.opts.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS
    return ch.request(method, params, { timeoutMs })
  }

  private every(ms: number, name: string, fn: () => Promise<unknown>): void {
    let running = false
    const t = setInterval(async () => {
      if (running || this.closing) return // a slow pass is never overlapped by the next one
      running = true
      try {
        await this.runDaemon(name, fn)
      } finally {
        running = false
      }
    }, ms)
    t.unref()
    this.timers.push(t)
  }

  private async runDaemon(name: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn()
    } catch (err) {
      this.opts.log?.(`${name} daemon: ${(err as Error).message}`)
    }
  }

  private onConnection(socket: NoiseSocket): void {
    if (this.closing) {
      socket.destroy()
      return
    }
    this.sockets.add(socket)
    socket.setKeepAlive(5000)
    socket.on('error', () => {})
    socket.on('close', () => this.sockets.delete(socket))
    const remoteKey = socket.remotePublicKey.toString('hex')
    const mux = Protomux.from(socket)
    new RpcChannel(mux, {
      protocol: PROTOCOLS.market,
      maxInFlight: this.limits.maxInFlight,
      handler: (method, params, token) => this.clientCall(method, params, token, remoteKey),
    })
    const control: RpcChannel = new RpcChannel(mux, {
      protocol: PROTOCOLS.control,
      // Only a node may report for itself: its identity is the Noise key it proved, never a claim.
      handler: (method, params) => this.nodeCall(remoteKey, control, method, params, socket),
      onClose: () => {
        if (this.nodes.get(remoteKey) !== control) return
        this.nodes.delete(remoteKey)
        if (!this.closing)
          void this.market
            .nodeOffline(remoteKey)
            .catch((err) => this.opts.log?.(`node ${remoteKey.slice(0, 8)} offline: ${(err as Error).message}`))
      },
    })
    this.migrations.attach(remoteKey, mux) // vmmp@1: only provider nodes open it
    const images = this.opts.images
    // Catalog images go to provider nodes only (those that said hello), never to clients.
    if (images)
      serveBlocks(mux, {
        authorize: (id, key) => (this.nodes.has(key.toString('hex')) ? images.authorize(id) : null),
        ...this.opts.imageFaults,
      })
    const replica: RpcChannel = new RpcChannel(mux, {
      protocol: PROTOCOLS.replica,
      handler: (method, params, token) =>
        this.replica.handle(replica, method, params, this.market.authorize(token, 'none', method), token),
      onDrain: () => this.replica.drained(replica),
      onClose: () => this.replica.drop(replica),
    })
  }

  private async clientCall(method: string, params: unknown, token: string, remoteKey: string): Promise<unknown> {
    if (method === 'hello') return { market: this.publicKey.toString('hex'), protocols: Object.values(PROTOCOLS) }
    // Console and tunnel tickets are signed with the hub's key and bound to the key this connection
    // proved (the caller dials the provider with it), so these methods get the hub, not just the market.
    const own = (t: object) => Object.prototype.hasOwnProperty.call(t, method)
    const ticketing = own(consoleMethods) ? consoleMethods[method] : own(tunnelMethods) ? tunnelMethods[method] : null
    if (ticketing)
      return ticketing.run(
        { market: this.market, keyPair: this.opts.keyPair, gateway: this, viewerKey: remoteKey },
        this.market.authorize(token, ticketing.auth, method),
        params,
      )
    const m = Object.prototype.hasOwnProperty.call(methods, method) ? methods[method] : undefined
    if (!m) throw nodeError.unknownMethod(method)
    const who = this.market.authorize(token, m.auth, method)
    // Per peer and per account, before any work: pm.add counts for the provider, login and signup for the name.
    this.limits.check(
      method,
      remoteKey,
      method === 'pm.add' ? who?.username : (params as { username?: unknown })?.username,
    )
    if (method === 'login' || method === 'signup') return this.limits.hashing(() => m.run(this.market, who, params))
    return m.run(this.market, who, params)
  }

  private async nodeCall(
    nodeKey: string,
    channel: RpcChannel,
    method: string,
    params: unknown,
    socket: NoiseSocket,
  ): Promise<unknown> {
    if (method === 'node.hello') {
      const p = params as any
      const result = await this.market.nodeHello(nodeKey, {
        info: p?.info,
        pairingCodeHash: p?.pairingCodeHash ?? null,
      })
      const old = this.nodes.get(nodeKey)
      if (old && old !== channel) old.close() // a restarted node replaces its stale connection
      this.nodes.set(nodeKey, channel)
      const host = (socket as { rawStream?: { remoteHost?: unknown } }).rawStream?.remoteHost
      if (typeof host === 'string') this.nodeHosts.set(nodeKey, host)
      // What the node did while its answers could not reach us (market/reconcile.ts); a moment
      // after the hello, so that the guest exits the node reports right after it are taken as such.
      if (result.pmId) {
        const t = setTimeout(() => {
          if (this.closing) return
          void this.market
            .reconcileNode(nodeKey)
            .catch((err) => this.opts.log?.(`reconciling node ${nodeKey.slice(0, 8)}: ${(err as Error).message}`))
        }, RECONCILE_AFTER_HELLO_MS)
        t.unref()
      }
      return result
    }
    if (!this.nodes.has(nodeKey)) throw nodeError.forbidden('say node.hello first')
    if (method === 'node.ping') return {}
    if (method === 'node.vnet.join') return this.vnet.join(nodeKey, params)
    // Reports are taken only from keys a provider bound by pairing (an unbound hello is all others get).
    if (!this.market.nodeBound(nodeKey))
      throw nodeError.forbidden(`${method} is only for nodes added to a provider account (virtuoso pm add)`)
    if (method === 'node.vm.exited') return this.market.guestExited(nodeKey, params)
    if (method === 'node.progress') return this.market.deliveryProgress(nodeKey, (params ?? {}) as any)
    if (method === 'node.images.dropped') return this.market.imagesDropped(nodeKey, (params ?? {}) as any)
    if (method === 'node.event') return this.market.nodeEvent(nodeKey, params as any)
    if (method === 'node.vnet.traffic') return this.market.traffic.report(nodeKey, params)
    throw nodeError.unknownMethod(method)
  }

  private async adminCall(method: string, params: unknown): Promise<unknown> {
    const snapshot = snapshotAdminCall(this.market.db, this.opts.dir, method, params)
    if (snapshot) return snapshot
    if (method === 'image.add') return addImageFile(this.market, this.opts.images ?? null, params)
    const m = Object.prototype.hasOwnProperty.call(adminMethods, method) ? adminMethods[method] : undefined
    if (!m) throw nodeError.unknownMethod(method)
    return m.run(this.market, null, params)
  }
}
