// The origin's side of a migration on a provider node (report §7.2.3). 'migration.prepare-origin'
// refuses unless the machine is here, at the hub's version, and not running; it closes console
// viewers and authorizes exactly one destination key for exactly one migration id (blocks@1 on this
// node's HyperDHT server, and for SCP a one-time sshd with a single-use key that ends at its first
// login, the release, or after a few minutes: credentials.ts).
// 'migration.release' after a commit unregisters the machine but KEEPS its files (and block
// manifests) under `<machines>/.vmmp-cache/<id>/`: if the machine ever comes back, that copy is the
// RSYNC base and only changed blocks move. After a revert it only revokes the authorization.
// Migrations are keyed by migration id here: blocks@1 and the SSH user name it.
// Install media attached to the machine travels too: the destination fetches the ISO, which is
// content-addressed, on an `image:<digest>` blocks@1 channel that only that migration's destination
// key may open while the migration runs; after the commit this node drops its copy (unless another
// machine here has it attached).
import type Protomux from 'protomux'
import { mkdir, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { Hypervisor } from '../hv/hypervisor.ts'
import { HvError, HV_BAD_STATE } from '../hv/errors.ts'
import { nodeError } from '../net/errors.ts'
import { PROTOCOLS } from '../net/protocols.ts'
import { serveBlocks, type Authorize, type BlocksActivity } from './blocks.ts'
import { CredentialStore } from './credentials.ts'
import { CACHE_DIR, PEER_CHANNEL_ID, requireCount, requireText, type MigrationFaults } from './params.ts'
import { ManifestWarmer } from './warm-manifests.ts'
import { IMAGE_CHANNEL_PREFIX, IMAGE_FILE } from './image-store.ts'

export interface OriginOptions {
  hv: Hypervisor
  /** Hang up console viewers of a machine about to leave. */
  closeConsole?: (vmId: string) => void
  /** Where this node's SSH console listens and its host key file (SCP's sshd shows that key), or null. */
  ssh?: () => { host: string; hostKeyFile: string } | null
  faults?: Pick<MigrationFaults, 'serveDelayMs' | 'corrupt'>
  log?: (line: string) => void
  /** blocks@1 channels that are no migration of ours (catalog images this node caches: image-store.ts). */
  authorizeOther?: Authorize
  /** After a machine left for good: drop its install media unless another machine here has it. */
  forgetMedia?: (path: string) => Promise<void>
}

interface Outgoing {
  migrationId: string
  vmId: string
  destKey: string
  dir: string
  files: string[]
  version: number
  /** The machine's install media (an ImageStore entry of this node), which the destination fetches. */
  media: { digest: string; dir: string } | null
}

export class MigrationOrigin {
  private outgoing = new Map<string, Outgoing>()
  readonly credentials: CredentialStore
  private warmer: ManifestWarmer

  constructor(private opts: OriginOptions) {
    this.warmer = new ManifestWarmer(opts.log)
    opts.hv.beforeRemove((vmId) => this.warmer.cancel(vmId))
    this.credentials = new CredentialStore({ ssh: opts.ssh, corrupt: opts.faults?.corrupt, log: opts.log })
  }

  /** The machine has come to rest at `version` (stopped, suspended, stored): hash it now, not at OPEN. */
  atRest(vmId: string, version: number): void {
    const hv = this.opts.hv
    this.warmer.schedule(vmId, hv.dirOf(vmId), () => hv.files(vmId), version)
  }

  /** {migrationId, vmId, version, destKey, method} -> {files, sshHost, sshPort, sshUser, sshKey, media}
   *  (the ssh fields for SCP only; the hub's `secret` of the ssh2 SCP before is ignored) */
  async prepare(p: Record<string, any>): Promise<unknown> {
    const migrationId = requireText(p.migrationId, 'migrationId')
    const vmId = requireText(p.vmId, 'vmId')
    const version = requireCount(p.version, 'version')
    const destKey = requireText(p.destKey, 'destKey')
    const hv = this.opts.hv
    const vm = await hv.refresh(vmId)
    if (!['registered', 'stopped', 'suspended'].includes(vm.state))
      throw new HvError(
        HV_BAD_STATE,
        `machine ${vmId} is ${vm.state} here; only a stored, stopped or suspended machine can leave`,
      )
    if (vm.version !== version) throw nodeError.versionMismatch(vmId, version, vm.version)
    this.opts.closeConsole?.(vmId)
    const files = await hv.files(vmId)
    const dir = hv.dirOf(vmId)
    // `<media store>/<digest>/image.raw`: the digest names the ISO the destination fetches.
    const path = vm.config.media
    const media = path && basename(path) === IMAGE_FILE ? { digest: basename(dirname(path)), dir: dirname(path) } : null
    this.outgoing.set(migrationId, { migrationId, vmId, destKey, dir, files, version, media })
    const login =
      p.method === 'SCP'
        ? await this.credentials.grant({ migrationId, dir, files, version, ready: () => this.warmer.ready(vmId) })
        : null
    const host = login ? (this.opts.ssh?.()?.host ?? null) : null
    const ssh = login ? { sshHost: host, sshPort: login.port, sshUser: login.user, sshKey: login.key } : {}
    return { files, ...ssh, media: media?.digest ?? null }
  }

  /** {migrationId, vmId, version, committed} -> {cached} */
  async release(p: Record<string, any>): Promise<unknown> {
    const migrationId = requireText(p.migrationId, 'migrationId')
    const vmId = requireText(p.vmId, 'vmId')
    this.outgoing.delete(migrationId)
    await this.credentials.revoke(migrationId)
    if (p.committed !== true) return { cached: false }
    const hv = this.opts.hv
    const vm = await hv.get(vmId).catch(() => null)
    // Already released, or not the copy that left.
    if (!vm || (Number.isInteger(p.version) && vm.version !== p.version)) return { cached: false }
    // Running only if a stale command started it after it left (the simulation delivered a delayed
    // 'vm.start' there): the machine runs elsewhere now, so this copy stops before it is put away.
    if (vm.state === 'running') await hv.stop(vmId)
    await this.warmer.cancel(vmId) // nothing may write into the directory while it moves
    const cache = join(hv.dir, CACHE_DIR, vmId)
    await mkdir(join(hv.dir, CACHE_DIR), { recursive: true })
    await rm(cache, { recursive: true, force: true })
    await rename(hv.dirOf(vmId), cache)
    const media = vm.config.media
    await hv.delete(vmId)
    if (media) await this.opts.forgetMedia?.(media) // it travelled with the machine
    this.opts.log?.(`vmmp: ${vmId} left for good; its files stay cached for a return trip`)
    return { cached: true }
  }

  /** Hook for this node's HyperDHT server: serve blocks@1 to the destination a migration names.
   *  The peer's vmmp@1 "peer" channel is answered (dialers open it), but only an open blocks@1
   *  channel that passed `authorize` makes the connection busy: a key that opens the peer channel
   *  and nothing else is hung up like any viewer without a ticket. */
  onPeer(mux: Protomux): { busy(): boolean } {
    mux.pair({ protocol: PROTOCOLS.vmmp, id: PEER_CHANNEL_ID }, () => {
      mux.createChannel({ protocol: PROTOCOLS.vmmp, id: PEER_CHANNEL_ID })?.open()
    })
    const activity: BlocksActivity = { open: 0 }
    const faults = this.opts.faults
    serveBlocks(mux, {
      authorize: async (migrationId, remoteKey) => {
        const o = this.outgoing.get(migrationId)
        if (!o)
          return this.mediaFor(migrationId, remoteKey) ?? this.opts.authorizeOther?.(migrationId, remoteKey) ?? null
        if (remoteKey.toString('hex') !== o.destKey) return null
        await this.warmer.ready(o.vmId) // its manifest, being computed since it came to rest
        return { vmId: o.vmId, dir: o.dir, files: o.files, version: o.version }
      },
      activity,
      delayMs: faults?.serveDelayMs,
      mutateBlock: faults?.corrupt
        ? (_f, _i, data) => {
            if (data.length) data[0] ^= 0xff
          }
        : undefined,
    })
    return { busy: () => activity.open > 0 }
  }

  /** An `image:<digest>` channel for the install media of a machine leaving for `remoteKey`'s node. */
  private mediaFor(channelId: string, remoteKey: Buffer) {
    if (!channelId.startsWith(IMAGE_CHANNEL_PREFIX)) return null
    const digest = channelId.slice(IMAGE_CHANNEL_PREFIX.length)
    const key = remoteKey.toString('hex')
    for (const o of this.outgoing.values())
      if (o.media?.digest === digest && o.destKey === key)
        return { vmId: channelId, dir: o.media.dir, files: [IMAGE_FILE], version: 0 }
    return null
  }

  /** Ends every SCP share (node shutdown): no sshd of ours outlives the node. */
  close(): Promise<void> {
    return this.credentials.closeAll()
  }
}
