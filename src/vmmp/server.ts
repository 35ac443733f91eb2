// The migration server on a provider node (report §7.2.3): one object the node wires, holding the
// two sides, which share nothing but the machines directory: the origin (origin.ts) and the
// destination (destination.ts), each with its own state.
//
// Commands the hub sends over control@1 (params -> result):
//   'migration.prepare-origin' {migrationId, vmId, version, destKey, method}
//                               -> {files, media, and for SCP: sshHost, sshPort, sshUser, sshKey}
//   'migration.prepare-dest'   {migrationId, vmId, version, config, suspended, method, media,
//                               origin: {key, sshHost, sshPort, sshFingerprint, sshHostKey, sshUser, sshKey}}
//                               -> {media: true, scp: SCP_TRANSPORT}
//   'migration.status'  {migrationId, vmId, version} -> {complete}   (hub restart: did it arrive?)
//   'migration.abort'   {migrationId, vmId} -> {deleted}              (destination: drop this migration's copy)
//   'migration.release' {migrationId, vmId, version, committed} -> {cached}  (origin)
import type DHT from 'hyperdht'
import type { KeyPair } from 'hyperdht'
import type Protomux from 'protomux'
import { join } from 'node:path'
import type { Hypervisor } from '../hv/hypervisor.ts'
import { errorInfo } from '../errors.ts'
import { nodeError } from '../net/errors.ts'
import type { Authorize } from './blocks.ts'
import { VmmpChannel } from './channel.ts'
import { defaultMethods, type MethodRegistry } from './methods/index.ts'
import { MigrationOrigin } from './origin.ts'
import { MigrationDestination } from './destination.ts'
import { CACHE_DIR, type MigrationFaults } from './params.ts'
import type { ImageStore } from './image-store.ts'

export { CACHE_DIR, type MigrationFaults } from './params.ts'
export { ARRIVED_MARKER, DEFAULT_HEARTBEAT_MS } from './destination.ts'

export interface MigrationServerOptions {
  dht: DHT
  /** The provider node's key pair: the one the hub names it by and the origin authorizes. */
  keyPair: KeyPair
  hv: Hypervisor
  methods?: MethodRegistry
  /** Hang up console viewers of a machine about to leave. */
  closeConsole?: (vmId: string) => void
  /** Where this node's SSH console listens and its host key file (SCP's sshd shows that key), or null. */
  ssh?: () => { host: string; hostKeyFile: string } | null
  heartbeatMs?: number
  stallMs?: number
  faults?: MigrationFaults
  log?: (line: string) => void
  /** blocks@1 channels that are no migration of ours (catalog images this node caches: image-store.ts). */
  authorizeOther?: Authorize
  /** This node's install media store: a migrating machine's ISO arrives there (destination.ts). */
  media?: ImageStore
  /** Drop a machine's ISO unless another machine here has it (a machine left, or did not arrive). */
  forgetMedia?: (path: string) => Promise<void>
}

export class MigrationServer {
  readonly methods: MethodRegistry
  readonly origin: MigrationOrigin
  readonly destination: MigrationDestination
  private hub: VmmpChannel | null = null

  constructor(private opts: MigrationServerOptions) {
    this.methods = opts.methods ?? defaultMethods()
    this.origin = new MigrationOrigin(opts)
    this.destination = new MigrationDestination({ ...opts, methods: this.methods })
  }

  get nodeKey(): string {
    return this.opts.keyPair.publicKey.toString('hex')
  }

  cacheDir(vmId: string): string {
    return join(this.opts.hv.dir, CACHE_DIR, vmId)
  }

  /** On each connection to the hub: open vmmp@1 beside control@1. */
  attachHub(mux: Protomux): VmmpChannel {
    const ch: VmmpChannel = new VmmpChannel(mux, {
      onMessage: (m) => this.destination.onHubMessage(ch, m),
      methods: () => this.methods.names(),
      onReject: (err) => this.opts.log?.(`vmmp: rejected a frame from the hub: ${errorInfo(err).message}`),
      onOpen: () => {
        this.hub = ch
      },
      onClose: () => {
        if (this.hub === ch) {
          this.hub = null
          this.destination.hubLost()
        }
      },
    })
    return ch
  }

  async command(method: string, params: unknown): Promise<unknown> {
    const p = (params ?? {}) as Record<string, any>
    switch (method) {
      case 'migration.prepare-origin':
        return this.origin.prepare(p)
      case 'migration.prepare-dest':
        return this.destination.prepare(p)
      case 'migration.status':
        return this.destination.status(p)
      case 'migration.abort':
        return this.destination.abort(p)
      case 'migration.release':
        return this.origin.release(p)
      default:
        throw nodeError.unknownMethod(method)
    }
  }

  /** A machine came to rest at `version` (stop, suspend, store): its manifest is computed now. */
  atRest(vmId: string, version: number): void {
    this.origin.atRest(vmId, version)
  }

  /** Hook for this node's HyperDHT server: serve blocks@1 to the destination a migration names. */
  onPeer(mux: Protomux): { busy(): boolean } {
    return this.origin.onPeer(mux)
  }

  /** Ends the origin's SCP shares (node shutdown). */
  close(): Promise<void> {
    return this.origin.close()
  }
}
