// `virtuoso node`: one process per node. With `hub` it is the market's hub; with a market key it is
// a provider agent for that market; it may be both (then it provides to its own market).
import { join } from 'node:path'
import type DHT from 'hyperdht'
import { Hypervisor } from '../hv/hypervisor.ts'
import { createDhtNode, type Bootstrap, type Reach } from '../net/dht.ts'
import { announce } from '../net/discovery.ts'
import { marketTopic } from '../net/topics.ts'
import { loadIdentity } from '../net/identity.ts'
import { Hub, type HubOptions } from '../hub/hub.ts'
import { ProviderAgent } from '../provider/agent.ts'
import { EventLog } from '../provider/event-log.ts'
import { newPairingCode } from '../market/pairing.ts'
import { ConsoleService, consoleNonceFile } from '../console/service.ts'
import { HOST_KEY_FILE } from '../console/ssh.ts'
import { TicketVerifier } from '../console/ticket.ts'
import { VnetService } from '../vnet/service.ts'
import { VnetPeers } from '../vnet/peers.ts'
import { Switch } from '../vnet/switch.ts'
import { TunnelServer } from '../vnet/tunnel-server.ts'
import { MigrationServer, type MigrationFaults } from '../vmmp/server.ts'
import { ImageStore } from '../vmmp/image-store.ts'
import { ImageService } from '../provider/images.ts'
import { StagedDisk } from '../provider/staged-disk.ts'
import { MediaService } from '../provider/media.ts'
import type { ImageServeFaults } from '../hub/images.ts'
import { privateDir } from '../secret-file.ts'
import { CliError, CLI_CONFIG } from './errors.ts'

export interface NodeOptions {
  data: string
  bootstrap: Bootstrap
  hub?: boolean
  /** Market to provide to (hex key). A hub with provide=true provides to itself. */
  market?: Buffer
  provide?: boolean
  hv?: 'test' | 'qemu'
  accel?: 'auto' | 'kvm' | 'tcg'
  /** Provider: what guests may reach beyond their networks ('nat': out through this machine). */
  guestOutbound?: 'none' | 'nat'
  billingIntervalMs?: number
  priceIntervalMs?: number
  dht?: DHT
  /** Where peers reach this node (its own DHT node only): `--public-address`, `--firewalled`. */
  reach?: Reach
  log?: (line: string) => void
  /** The provider's SSH console: bind address and port (default 127.0.0.1, any free port); false = none. */
  ssh?: false | { host?: string; advertise?: string; port?: number }
  /** Hub: how long the migration agent waits for a HEARTBEAT before reverting. */
  heartbeatWindowMs?: number
  /** Provider: faults the migration server injects (tests only: test/e2e/fault-node.ts sets them). */
  migrationFaults?: MigrationFaults
  /** scrypt N for every password this node hashes (accounts, console): default 2^17; `--scrypt-cost`. */
  scryptN?: number
  /** Images: test fault injection (constructor options, never the environment). */
  images?: {
    /** How this node's hub serves image blocks (corrupt blocks, a lying manifest). */
    hubFaults?: ImageServeFaults
    /** Free bytes the image store sees (a full disk). */
    freeBytes?: () => number
    /** No image bytes for this long from every source = VMMP_STALLED. */
    stallMs?: number
    /** Most bytes of cached catalog images a provider keeps (`--image-cache MB`); default: no cap. */
    cacheBytes?: number
  }
}

export interface RunningNode {
  key: string
  hub: Hub | null
  provider: ProviderAgent | null
  pairingCode: string | null
  close(): Promise<void>
}

export async function startNode(opts: NodeOptions): Promise<RunningNode> {
  await privateDir(opts.data)
  const keyPair = await loadIdentity(opts.data)
  const dht = opts.dht ?? createDhtNode(opts.bootstrap, { serve: true, ...opts.reach })
  const closers: Array<() => Promise<void>> = []
  if (!opts.dht) closers.push(() => dht.destroy())
  let hub: Hub | null = null
  let provider: ProviderAgent | null = null
  let pairingCode: string | null = null
  // One content-addressed store per node: the hub's catalog files and the provider's cache alike.
  const images = new ImageStore(join(opts.data, 'images'), { freeBytes: opts.images?.freeBytes })
  await images.sweepPartials()
  await StagedDisk.sweep(images.dir)
  try {
    if (opts.hub) {
      const hubOpts: HubOptions = {
        dir: join(opts.data, 'hub'),
        dht,
        keyPair,
        log: opts.log,
        billingIntervalMs: opts.billingIntervalMs,
        priceIntervalMs: opts.priceIntervalMs,
        heartbeatWindowMs: opts.heartbeatWindowMs,
        images,
        imageFaults: opts.images?.hubFaults,
        scryptN: opts.scryptN,
      }
      hub = new Hub(hubOpts)
      await hub.start()
      closers.unshift(() => hub!.close())
      // Findable by the market key's topic too (net/topics.ts), where a standby hub will announce.
      const announced = announce(dht, marketTopic(keyPair.publicKey), keyPair)
      closers.unshift(async () => void announced.stop()) // a shutdown does not wait for the DHT
    }
    const marketKey = opts.market ?? (opts.hub && opts.provide ? keyPair.publicKey : undefined)
    if (marketKey) {
      if (opts.hub && !marketKey.equals(keyPair.publicKey))
        throw new CliError(CLI_CONFIG, 'a hub provides only to its own market: drop --market or --hub')
      // A node that is both dials its own key with a second key pair: one Noise key = one role.
      const providerKeys = opts.hub ? await loadIdentity(join(opts.data, 'provider')) : keyPair
      // The test driver writes real (sparse) disk files so migration has something to move.
      const hv = await Hypervisor.open({
        driver: opts.hv ?? 'qemu',
        dir: join(opts.data, 'machines'),
        db: join(opts.data, 'hv-state'),
        accel: opts.accel,
        qemu: { outbound: opts.guestOutbound ?? 'none' },
        test: { writeFiles: true },
      })
      closers.unshift(() => hv.close())
      // The buyers' networks: a switch port for every running guest with a network card.
      const sw = new Switch()
      const peers = new VnetPeers({ dht, keyPair: providerKeys, hubKey: marketKey, sw, log: opts.log })
      const vnet = new VnetService({ hv, switch: sw, peers, log: opts.log })
      await vnet.start()
      closers.unshift(async () => vnet.close())
      let consoleSvc: ConsoleService | null = null
      // One ticket verifier for console@1 and tunnel@1: a ticket opens one session of either kind,
      // and its nonce stays spent across a restart (DATA/console/used-tickets; ConsoleService loads it).
      const nodeKey = providerKeys.publicKey.toString('hex')
      const tickets = new TicketVerifier({ hubKey: marketKey, nodeKey, nonceFile: consoleNonceFile(opts.data) })
      const tunnels = new TunnelServer({
        hv,
        hubKey: marketKey,
        nodeKey,
        tickets,
        consolePort: () => consoleSvc?.ssh?.port ?? null,
        log: opts.log,
      })
      // Install media: a store of its own, so catalog images and buyers' ISOs never mix.
      const media = new ImageStore(join(opts.data, 'media'), { freeBytes: opts.images?.freeBytes })
      await media.sweepPartials()
      let mediaSvc: MediaService | null = null
      const consoleDir = join(opts.data, 'console')
      const migration: MigrationServer = new MigrationServer({
        dht,
        keyPair: providerKeys,
        hv,
        log: opts.log,
        faults: opts.migrationFaults,
        closeConsole: (vmId) => consoleSvc?.screens.migrate(vmId),
        authorizeOther: (id) => images.authorize(id),
        media,
        forgetMedia: async (path) => mediaSvc?.forget(path),
        ssh: () => {
          const i = consoleSvc?.info()
          return i?.sshHost && i.sshPort ? { host: i.sshHost, hostKeyFile: join(consoleDir, HOST_KEY_FILE) } : null
        },
      })
      // Console before the agent: its hello tells the hub where the SSH console listens.
      consoleSvc = new ConsoleService({
        dht,
        keyPair: providerKeys,
        marketKey,
        hv,
        dataDir: consoleDir,
        tickets,
        ssh: opts.ssh,
        scryptN: opts.scryptN,
        log: opts.log,
        onPeer: (mux, socket) => {
          const m = migration.onPeer(mux)
          const v = peers.onPeer(mux, socket)
          const t = tunnels.onPeer(mux, socket)
          return { busy: () => m.busy() || v.busy() || t.busy() }
        },
      })
      await consoleSvc.start()
      const svc = consoleSvc
      closers.unshift(() => svc.close())
      closers.unshift(() => migration.close()) // SCP's one-time sshd processes
      pairingCode = newPairingCode()
      const imageSvc = new ImageService({
        dht,
        keyPair: providerKeys,
        store: images,
        hv,
        marketKey,
        report: (vmId, done, total) => provider?.progress(vmId, done, total),
        event: (e) => void provider?.report(e),
        stallMs: opts.images?.stallMs,
        log: opts.log,
        cacheBytes: opts.images?.cacheBytes,
        evicted: (digests) =>
          void provider
            ?.request('node.images.dropped', { digests })
            .catch((err) => opts.log?.(`images: could not tell the hub what was evicted: ${(err as Error).message}`)),
      })
      mediaSvc = new MediaService({
        dht,
        keyPair: providerKeys,
        store: media,
        hv,
        stallMs: opts.images?.stallMs,
        log: opts.log,
      })
      const events = await EventLog.open(join(opts.data, 'events'))
      provider = new ProviderAgent({
        events,
        images: imageSvc,
        media: mediaSvc,
        dht,
        keyPair: providerKeys,
        marketKey,
        hv,
        pairingCode,
        log: opts.log,
        console: consoleSvc,
        migration,
        vnet,
      })
      const agent = provider
      vnet.hubRequest = (method, params) => agent.request(method, params)
      provider.start()
      closers.unshift(() => provider!.close())
    }
  } catch (err) {
    for (const c of closers) await c().catch(() => {})
    throw err
  }
  return {
    key: keyPair.publicKey.toString('hex'),
    hub,
    provider,
    pairingCode,
    async close() {
      for (const c of closers) await c().catch(() => {})
    },
  }
}
