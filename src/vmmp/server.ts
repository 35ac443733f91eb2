// The migration server on a provider node (report §7.2.3), both roles:
//
// DESTINATION: answers QUERY from its method registry; on the hub's 'migration.prepare-dest' it
// records what is coming, and on REQ (only ever from the hub: vmmp@1 exists only on the connection
// this node dialed to the market key it pins) it pulls the files with the named method into the
// machine's directory, HEARTBEATs every second with the PROGRESS extension, registers the machine
// with its Hypervisor at VERSION+1 with its origin (report §7.1.5, §7.2.4), and answers RESP
// SUCCESS; on any error RESP FAIL and the partial copy is deleted.
//
// ORIGIN: 'migration.prepare-origin' refuses unless the machine is here, at the hub's version, and
// not running; it closes console viewers and authorizes exactly one destination key for exactly
// one migration id (blocks@1 on this node's HyperDHT server, and a one-time SSH login for SCP).
// 'migration.release' after a commit unregisters the machine but KEEPS its files (and block
// manifests) under `<machines>/.vmmp-cache/<id>/`: if the machine ever comes back, that copy is
// the RSYNC base and only changed blocks move. After a revert it only revokes the authorization.
//
// Commands the hub sends over control@1 (params -> result):
//   'migration.prepare-origin' {migrationId, vmId, version, destKey, secret} -> {files, sshHost, sshPort}
//   'migration.prepare-dest'   {migrationId, vmId, version, config, suspended, method, origin: {key, sshHost, sshPort}, secret} -> {}
//   'migration.status'  {migrationId, vmId, version} -> {complete}   (hub restart: did it arrive?)
//   'migration.abort'   {migrationId, vmId} -> {deleted}              (destination: drop this migration's copy)
//   'migration.release' {migrationId, vmId, version, committed} -> {cached}  (origin)
import type DHT from 'hyperdht'
import type { KeyPair, NoiseSocket } from 'hyperdht'
import type Protomux from 'protomux'
import type { Connection } from 'ssh2'
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Hypervisor } from '../hv/hypervisor.ts'
import type { VmConfig } from '../hv/types.ts'
import { VirtuosoError, errorInfo } from '../errors.ts'
import { PROTOCOLS } from '../net/protocols.ts'
import { dial } from '../net/dial.ts'
import { nodeError } from '../net/errors.ts'
import type { SshCredential } from '../console/ssh.ts'
import { serveBlocks } from './blocks.ts'
import { VmmpChannel } from './channel.ts'
import type { VmmpMessage } from './codec.ts'
import { vmmpError, VmmpError } from './errors.ts'
import { defaultMethods, type MethodRegistry } from './methods/index.ts'
import {
  checkMigrationCredential,
  grantMigrationCredential,
  handleMigrationSftp,
  revokeMigrationCredential,
  type MigrationShare,
} from './methods/scp-server.ts'
import { INCOMPLETE_MARKER, isIncomplete } from './paths.ts'
import { DEFAULT_STALL_MS } from './stall.ts'

export const DEFAULT_HEARTBEAT_MS = 1000
export const CACHE_DIR = '.vmmp-cache'
/** Written into a machine directory when a migration's copy is imported: names the migration it came by. */
export const ARRIVED_MARKER = '.vmmp-arrived'
const PEER_ID = Buffer.from('peer')

/** Fault injection for tests, passed only as a constructor option (the `virtuoso` command never sets it). */
export interface MigrationFaults {
  /** Origin: delay each blocks@1 answer (a slow link, so a test can kill something mid-copy). */
  serveDelayMs?: number
  /** Origin: flip a byte in every block it serves (corruption in transit). */
  corrupt?: boolean
  /** Destination: send one HEARTBEAT, then none (the pull goes on). */
  dropHeartbeats?: boolean
  /** Destination: pretend the disk fills after this many bytes. */
  freeBytes?: number
}

export interface MigrationServerOptions {
  dht: DHT
  /** The provider node's key pair: the one the hub names it by and the origin authorizes. */
  keyPair: KeyPair
  hv: Hypervisor
  methods?: MethodRegistry
  /** Hang up console viewers of a machine about to leave. */
  closeConsole?: (vmId: string) => void
  /** Where this node's SSH server listens (SCP pulls from it), or null. */
  sshAddress?: () => { host: string; port: number } | null
  heartbeatMs?: number
  stallMs?: number
  faults?: MigrationFaults
  log?: (line: string) => void
}

interface Outgoing {
  migrationId: string
  vmId: string
  destKey: string
  dir: string
  files: string[]
  version: number
}
interface Incoming {
  migrationId: string
  vmId: string
  version: number
  config: VmConfig
  suspended: boolean
  method: string
  origin: { key: string; sshHost: string | null; sshPort: number | null }
  secret: string
}
interface Running {
  migrationId: string
  ac: AbortController
  done: Promise<void>
}

const str = (v: unknown, what: string): string => {
  if (typeof v !== 'string' || v.length === 0 || v.length > 256) throw nodeError.badFrame(`${what} must be a string`)
  return v
}
const int = (v: unknown, what: string): number => {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw nodeError.badFrame(`${what} must be a whole number`)
  return v as number
}

export class MigrationServer {
  readonly methods: MethodRegistry
  private outgoing = new Map<string, Outgoing>()
  private incoming = new Map<string, Incoming>()
  private running = new Map<string, Running>()
  private hub: VmmpChannel | null = null
  /** Why a migration failed here, for the hub's revert message (RESP FAIL carries no reason). */
  private failures = new Map<string, { code: string; message: string }>()

  constructor(private opts: MigrationServerOptions) {
    this.methods = opts.methods ?? defaultMethods()
  }

  get nodeKey(): string {
    return this.opts.keyPair.publicKey.toString('hex')
  }
  private get hv(): Hypervisor {
    return this.opts.hv
  }
  cacheDir(vmId: string): string {
    return join(this.hv.dir, CACHE_DIR, vmId)
  }

  // --- the hub connection ---

  /** On each connection to the hub: open vmmp@1 beside control@1. */
  attachHub(mux: Protomux): VmmpChannel {
    const ch: VmmpChannel = new VmmpChannel(mux, {
      onMessage: (m) => this.onHubMessage(ch, m),
      methods: () => this.methods.names(),
      onReject: (err) => this.opts.log?.(`vmmp: rejected a frame from the hub: ${errorInfo(err).message}`),
      onOpen: () => {
        this.hub = ch
      },
      onClose: () => {
        if (this.hub === ch) {
          this.hub = null
          this.hubLost()
        }
      },
    })
    return ch
  }

  /** The hub is gone: it will resolve every open migration when it is back, so stop copying now. */
  private hubLost(): void {
    for (const r of this.running.values()) r.ac.abort()
  }

  private onHubMessage(ch: VmmpChannel, m: VmmpMessage): void {
    if (m.type === 'QUERY') return ch.send({ type: 'RESULTS', id: m.id, methods: this.methods.names() })
    if (m.type !== 'REQ') return
    const inc = this.incoming.get(m.id)
    const refuse = (why: string) => {
      this.opts.log?.(`vmmp: refused REQ for ${m.id}: ${why}`)
      ch.send({ type: 'RESP', id: m.id, version: m.version, ok: false })
    }
    if (!inc) return refuse('no prepared migration')
    if (inc.version !== m.version || inc.origin.key !== m.origin.key || inc.method !== m.method)
      return refuse('REQ does not match the prepared migration')
    if (this.running.has(m.id)) return
    const ac = new AbortController()
    const done = this.arrive(ch, inc, ac.signal).finally(() => {
      if (this.running.get(m.id)?.ac === ac) this.running.delete(m.id)
      if (this.incoming.get(m.id) === inc) this.incoming.delete(m.id)
    })
    this.running.set(m.id, { migrationId: inc.migrationId, ac, done })
  }

  // --- destination ---

  private async arrive(ch: VmmpChannel, inc: Incoming, signal: AbortSignal): Promise<void> {
    const { vmId, migrationId } = inc
    const dir = this.hv.dirOf(vmId)
    let done = 0
    let total = 0
    let beats = 0
    const beat = () => {
      if (this.opts.faults?.dropHeartbeats && beats > 0) return
      beats++
      ch.send({ type: 'HEARTBEAT', id: vmId })
      ch.sendProgress({ id: vmId, done, total })
    }
    beat()
    const timer = setInterval(beat, this.opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS)
    let socket: NoiseSocket | null = null
    const t0 = Date.now()
    try {
      await this.useCache(vmId, dir)
      const method = this.methods.get(inc.method)
      const src: { mux?: Protomux; ssh?: { host: string; port: number; username: string; password: string } } = {}
      if (inc.method === 'SCP') {
        if (!inc.origin.sshPort) throw vmmpError.protocol('the origin has no SSH server for SCP')
        src.ssh = {
          host: inc.origin.sshHost ?? '127.0.0.1',
          port: inc.origin.sshPort,
          username: migrationId,
          password: inc.secret,
        }
      } else {
        const dialed = await dial(
          this.opts.dht,
          Buffer.from(inc.origin.key, 'hex'),
          { keyPair: this.opts.keyPair, deadlineMs: 15_000, what: `origin ${inc.origin.key.slice(0, 8)}` },
          (mux) => {
            let opened!: () => void
            const p = new Promise<void>((resolve) => {
              opened = resolve
            })
            mux.createChannel({ protocol: PROTOCOLS.vmmp, id: PEER_ID, onopen: () => opened() })?.open()
            // The origin's key also serves console@1 and opens it on every connection; a rejected
            // console channel makes it hang up, so accept it and say nothing on it.
            mux.pair({ protocol: PROTOCOLS.console }, () => {
              mux.createChannel({ protocol: PROTOCOLS.console })?.open()
            })
            return { opened: p, value: mux }
          },
        )
        socket = dialed.socket
        src.mux = dialed.value
      }
      const freeBytes = this.opts.faults?.freeBytes
      const inner = new AbortController()
      const onOuter = () => inner.abort()
      signal.addEventListener('abort', onOuter, { once: true })
      let full: VmmpError | null = null
      const result = await method
        .pull({
          migrationId,
          src,
          destDir: dir,
          cacheVersion: inc.version + 1,
          signal: inner.signal,
          stallMs: this.opts.stallMs ?? DEFAULT_STALL_MS,
          onProgress: (d, t) => {
            done = d
            total = t
            if (freeBytes !== undefined && d > freeBytes && !full) {
              full = vmmpError.noSpace(dir)
              inner.abort()
            }
          },
        })
        .catch((err) => {
          throw full ?? err
        })
        .finally(() => signal.removeEventListener('abort', onOuter))
      if (full) throw full
      if (signal.aborted) throw vmmpError.aborted('stopped: the hub connection was lost')
      // A cached older copy may hold files this version has not (a saved state from an earlier suspend).
      for (const f of result.extraFiles) await rm(join(dir, f), { force: true })
      await writeFile(join(dir, ARRIVED_MARKER), `${migrationId}\n`)
      await this.hv.importVm(vmId, inc.config, {
        version: inc.version + 1,
        origin: inc.origin.key,
        suspended: inc.suspended,
      })
      this.opts.log?.(
        `vmmp: ${vmId} arrived by ${inc.method} in ${Date.now() - t0} ms (${result.bytesOnWire} bytes on the wire, ${result.bytesWritten} written of ${result.bytesTotal})`,
      )
      clearInterval(timer)
      ch.sendProgress({ id: vmId, done: total, total })
      ch.send({ type: 'RESP', id: vmId, version: inc.version + 1, ok: true })
    } catch (err) {
      clearInterval(timer)
      this.opts.log?.(`vmmp: migration of ${vmId} failed here: ${errorInfo(err).message}`)
      this.failures.set(migrationId, errorInfo(err))
      if (this.failures.size > 100) this.failures.delete(this.failures.keys().next().value!)
      await this.dropCopy(vmId, migrationId).catch(() => {})
      ch.send({ type: 'RESP', id: vmId, version: inc.version, ok: false })
    } finally {
      clearInterval(timer)
      socket?.destroy()
    }
  }

  /** A copy left from an earlier visit becomes the RSYNC base; a stale unregistered directory goes. */
  private async useCache(vmId: string, dir: string): Promise<void> {
    if (
      await this.hv.get(vmId).then(
        () => true,
        () => false,
      )
    )
      throw new VirtuosoError('HV_EXISTS', `machine ${vmId} is already registered here`)
    const cache = this.cacheDir(vmId)
    if (await exists(cache)) {
      await rm(dir, { recursive: true, force: true })
      await rename(cache, dir)
    } else if (await isIncomplete(dir)) {
      await rm(dir, { recursive: true, force: true })
    }
    await rm(join(dir, ARRIVED_MARKER), { force: true })
  }

  /** Delete what this migration put here, and only that (a later migration's copy is not ours). */
  private async dropCopy(vmId: string, migrationId: string): Promise<boolean> {
    const dir = this.hv.dirOf(vmId)
    const arrived = (await readFile(join(dir, ARRIVED_MARKER), 'utf8').catch(() => '')).trim()
    const partial = (await readFile(join(dir, INCOMPLETE_MARKER), 'utf8').catch(() => '')).trim()
    const registered = await this.hv.get(vmId).then(
      () => true,
      () => false,
    )
    if (registered && arrived === migrationId) {
      await this.hv.delete(vmId) // removes the directory with it
      return true
    }
    if (!registered && (arrived === migrationId || partial === migrationId || arrived === '')) {
      await rm(dir, { recursive: true, force: true })
      return true
    }
    return false
  }

  // --- commands from the hub ---

  async command(method: string, params: unknown): Promise<unknown> {
    const p = (params ?? {}) as Record<string, any>
    switch (method) {
      case 'migration.prepare-origin':
        return this.prepareOrigin(p)
      case 'migration.prepare-dest':
        return this.prepareDest(p)
      case 'migration.status':
        return this.status(p)
      case 'migration.abort':
        return this.abort(p)
      case 'migration.release':
        return this.release(p)
      default:
        throw nodeError.unknownMethod(method)
    }
  }

  private async prepareOrigin(p: Record<string, any>): Promise<unknown> {
    const migrationId = str(p.migrationId, 'migrationId')
    const vmId = str(p.vmId, 'vmId')
    const version = int(p.version, 'version')
    const destKey = str(p.destKey, 'destKey')
    const secret = str(p.secret, 'secret')
    const vm = await this.hv.refresh(vmId)
    if (!['registered', 'stopped', 'suspended'].includes(vm.state))
      throw new VirtuosoError(
        'HV_BAD_STATE',
        `machine ${vmId} is ${vm.state} here; only a stored, stopped or suspended machine can leave`,
      )
    if (vm.version !== version) throw nodeError.versionMismatch(vmId, version, vm.version)
    this.opts.closeConsole?.(vmId)
    const files = await this.hv.files(vmId)
    const dir = this.hv.dirOf(vmId)
    this.outgoing.set(migrationId, { migrationId, vmId, destKey, dir, files, version })
    grantMigrationCredential({ migrationId, secret, dir, files, version })
    const ssh = this.opts.sshAddress?.() ?? null
    return { files, sshHost: ssh?.host ?? null, sshPort: ssh?.port ?? null }
  }

  private async prepareDest(p: Record<string, any>): Promise<unknown> {
    const inc: Incoming = {
      migrationId: str(p.migrationId, 'migrationId'),
      vmId: str(p.vmId, 'vmId'),
      version: int(p.version, 'version'),
      config: p.config as VmConfig,
      suspended: p.suspended === true,
      method: str(p.method, 'method'),
      origin: {
        key: str(p.origin?.key, 'origin.key'),
        sshHost: typeof p.origin?.sshHost === 'string' ? p.origin.sshHost : null,
        sshPort: Number.isInteger(p.origin?.sshPort) ? p.origin.sshPort : null,
      },
      secret: str(p.secret, 'secret'),
    }
    this.methods.get(inc.method) // VMMP_UNKNOWN_METHOD
    if (
      await this.hv.get(inc.vmId).then(
        () => true,
        () => false,
      )
    )
      throw new VirtuosoError('HV_EXISTS', `machine ${inc.vmId} is already registered here`)
    if (this.running.has(inc.vmId))
      throw new VirtuosoError('VMMP_PROTOCOL', `machine ${inc.vmId} is already arriving here`)
    this.incoming.set(inc.vmId, inc)
    return {}
  }

  /** Stop a transfer of this migration if one runs here, and wait for it to clean up. */
  private async stopRunning(vmId: string, migrationId: string): Promise<void> {
    const r = this.running.get(vmId)
    if (r && r.migrationId === migrationId) {
      r.ac.abort()
      await r.done.catch(() => {})
    }
    if (this.incoming.get(vmId)?.migrationId === migrationId) this.incoming.delete(vmId)
  }

  private async status(p: Record<string, any>): Promise<unknown> {
    const migrationId = str(p.migrationId, 'migrationId')
    const vmId = str(p.vmId, 'vmId')
    const version = int(p.version, 'version')
    const r = this.running.get(vmId)
    if (r && r.migrationId === migrationId) await this.stopRunning(vmId, migrationId)
    const vm = await this.hv.get(vmId).catch(() => null)
    const dir = this.hv.dirOf(vmId)
    const arrived = (await readFile(join(dir, ARRIVED_MARKER), 'utf8').catch(() => '')).trim()
    const complete = !!vm && vm.version === version && arrived === migrationId && !(await isIncomplete(dir))
    return { complete }
  }

  private async abort(p: Record<string, any>): Promise<unknown> {
    const migrationId = str(p.migrationId, 'migrationId')
    const vmId = str(p.vmId, 'vmId')
    await this.stopRunning(vmId, migrationId)
    return { deleted: await this.dropCopy(vmId, migrationId), error: this.failures.get(migrationId) ?? null }
  }

  private async release(p: Record<string, any>): Promise<unknown> {
    const migrationId = str(p.migrationId, 'migrationId')
    const vmId = str(p.vmId, 'vmId')
    this.outgoing.delete(migrationId)
    revokeMigrationCredential(migrationId)
    if (p.committed !== true) return { cached: false }
    const vm = await this.hv.get(vmId).catch(() => null)
    if (!vm || (Number.isInteger(p.version) && vm.version !== p.version)) return { cached: false } // already released, or not the copy that left
    const cache = this.cacheDir(vmId)
    await mkdir(join(this.hv.dir, CACHE_DIR), { recursive: true })
    await rm(cache, { recursive: true, force: true })
    await rename(this.hv.dirOf(vmId), cache)
    await this.hv.delete(vmId)
    this.opts.log?.(`vmmp: ${vmId} left for good; its files stay cached for a return trip`)
    return { cached: true }
  }

  // --- origin: what destinations reach ---

  /** Hook for this node's HyperDHT server: serve blocks@1 to the destination a migration names. */
  onPeer(mux: Protomux): { busy(): boolean } {
    let open = 0
    mux.pair({ protocol: PROTOCOLS.vmmp, id: PEER_ID }, () => {
      const ch = mux.createChannel({
        protocol: PROTOCOLS.vmmp,
        id: PEER_ID,
        onopen: () => {
          open++
        },
        onclose: () => {
          open = Math.max(0, open - 1)
        },
      })
      ch?.open()
    })
    const faults = this.opts.faults
    serveBlocks(mux, {
      authorize: (migrationId, remoteKey) => {
        const o = this.outgoing.get(migrationId)
        if (!o || remoteKey.toString('hex') !== o.destKey) return null
        return { vmId: o.vmId, dir: o.dir, files: o.files, version: o.version }
      },
      delayMs: faults?.serveDelayMs,
      mutateBlock: faults?.corrupt
        ? (_f, _i, data) => {
            if (data.length) data[0] ^= 0xff
          }
        : undefined,
    })
    return { busy: () => open > 0 }
  }

  /** The one-time migration login for the node's SSH server (SCP reads the share over SFTP). */
  sshCredential(): SshCredential {
    const shares = new Map<string, MigrationShare>()
    return {
      kind: 'migration',
      async check(username, password) {
        const share = checkMigrationCredential(username, password)
        if (!share) return null
        shares.set(username, share)
        return { kind: 'migration', subject: username }
      },
      serve(grant, client: Connection) {
        const share = shares.get(grant.subject)
        client.on('session', (accept) => {
          const session = accept()
          session.on('sftp', (acceptSftp) => {
            if (share) handleMigrationSftp(acceptSftp(), share)
          })
        })
      },
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}
