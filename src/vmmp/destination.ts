// The destination's side of a migration on a provider node (report §7.2.3). It answers QUERY from
// its method registry; on the hub's 'migration.prepare-dest' it records what is coming, and on REQ
// (only ever from the hub: vmmp@1 exists only on the connection this node dialed to the market key
// it pins) it pulls the files with the named method into the machine's directory, HEARTBEATs every
// second with the PROGRESS extension, registers the machine with its Hypervisor at VERSION+1 with
// its origin (report §7.1.5, §7.2.4), and answers RESP SUCCESS; on any error RESP FAIL and the
// partial copy is deleted. Install media the machine has attached is fetched from the origin after
// the disk (content-addressed, every block verified: image-fetch.ts) into this node's media store and
// attached again here. Arrivals are keyed by machine id, as VMMP messages name them; the
// failure reasons by migration id, since the hub asks for them after the arrival is gone.
import type DHT from 'hyperdht'
import type { KeyPair, NoiseSocket } from 'hyperdht'
import type Protomux from 'protomux'
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Hypervisor } from '../hv/hypervisor.ts'
import { HvError, HV_EXISTS } from '../hv/errors.ts'
import { errorInfo } from '../errors.ts'
import { dialPeer } from './peer-dial.ts'
import type { VmmpChannel } from './channel.ts'
import type { VmmpMessage } from './codec.ts'
import { vmmpError, VmmpError, VMMP_PROTOCOL } from './errors.ts'
import type { MethodRegistry, MigrationSource, PullResult } from './methods/index.ts'
import { INCOMPLETE_MARKER, isIncomplete } from './paths.ts'
import { Laps } from './laps.ts'
import { DEFAULT_STALL_MS } from './stall.ts'
import { CACHE_DIR, requireCount, requireText, type MigrationFaults } from './params.ts'
import { fetchImage } from './image-fetch.ts'
import { parseIncoming, SCP_TRANSPORT, type Incoming } from './incoming.ts'
import type { ImageStore } from './image-store.ts'

export const DEFAULT_HEARTBEAT_MS = 1000
/** Written into a machine directory when a migration's copy is imported: names the migration it came by. */
export const ARRIVED_MARKER = '.vmmp-arrived'
const ORIGIN_DIAL_MS = 15_000
const MAX_FAILURES_KEPT = 100

export interface DestinationOptions {
  dht: DHT
  /** The provider node's key pair: the origin authorizes the destination by it. */
  keyPair: KeyPair
  hv: Hypervisor
  methods: MethodRegistry
  heartbeatMs?: number
  stallMs?: number
  faults?: Pick<MigrationFaults, 'dropHeartbeats' | 'freeBytes'>
  log?: (line: string) => void
  /** This node's install media store: a machine's ISO arrives there (none: media cannot come here). */
  media?: ImageStore
  /** A machine that did not arrive after all: drop its ISO unless another machine here has it. */
  forgetMedia?: (path: string) => Promise<void>
}

interface Running {
  migrationId: string
  ac: AbortController
  done: Promise<void>
}

export class MigrationDestination {
  private incoming = new Map<string, Incoming>()
  private running = new Map<string, Running>()
  /** Why a migration failed here, for the hub's revert message (RESP FAIL carries no reason). */
  private failures = new Map<string, { code: string; message: string }>()

  constructor(private opts: DestinationOptions) {}

  private get hv(): Hypervisor {
    return this.opts.hv
  }

  /** A REQ from the hub starts the prepared arrival; anything else on vmmp@1 but QUERY is ignored. */
  onHubMessage(ch: VmmpChannel, m: VmmpMessage): void {
    if (m.type === 'QUERY') return ch.send({ type: 'RESULTS', id: m.id, methods: this.opts.methods.names() })
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

  /** The hub is gone: it will resolve every open migration when it is back, so stop copying now. */
  hubLost(): void {
    for (const r of this.running.values()) r.ac.abort()
  }

  /** {migrationId, vmId, version, config, suspended, method,
   *   origin: {key, sshHost, sshPort, sshFingerprint, sshHostKey, sshUser, sshKey}, media?: {digest, size}}
   *  -> {media: true, scp: SCP_TRANSPORT} */
  async prepare(p: Record<string, any>): Promise<unknown> {
    const inc = parseIncoming(p)
    this.opts.methods.get(inc.method) // VMMP_UNKNOWN_METHOD
    if (inc.media && !this.opts.media) throw vmmpError.protocol('this node keeps no install media')
    if (await this.registered(inc.vmId)) throw alreadyHere(inc.vmId)
    if (this.running.has(inc.vmId)) throw new VmmpError(VMMP_PROTOCOL, `machine ${inc.vmId} is already arriving here`)
    const replaced = this.incoming.get(inc.vmId)
    if (replaced) hangUp(replaced)
    // The dial overlaps the hub's REQ instead of following it: 5-50 ms off every trip here.
    if (inc.method !== 'SCP') (inc.link = this.dialOrigin(inc)).catch(() => {})
    this.incoming.set(inc.vmId, inc)
    // Says this node fetches the machine's media, and pulls SCP with OpenSSH: a node from before did
    // neither, and the hub refuses it.
    return { media: true, scp: SCP_TRANSPORT }
  }

  private dialOrigin(inc: Incoming): Promise<{ socket: NoiseSocket; mux: Protomux }> {
    const what = `origin ${inc.origin.key.slice(0, 8)}`
    const opts = { keyPair: this.opts.keyPair, deadlineMs: ORIGIN_DIAL_MS, what }
    return dialPeer(this.opts.dht, Buffer.from(inc.origin.key, 'hex'), opts)
  }

  /** {migrationId, vmId, version} -> {complete}: after a hub restart, did the machine arrive? */
  async status(p: Record<string, any>): Promise<unknown> {
    const migrationId = requireText(p.migrationId, 'migrationId')
    const vmId = requireText(p.vmId, 'vmId')
    const version = requireCount(p.version, 'version')
    if (this.running.get(vmId)?.migrationId === migrationId) await this.stopRunning(vmId, migrationId)
    const vm = await this.hv.get(vmId).catch(() => null)
    const dir = this.hv.dirOf(vmId)
    const arrived = (await readFile(join(dir, ARRIVED_MARKER), 'utf8').catch(() => '')).trim()
    const complete = !!vm && vm.version === version && arrived === migrationId && !(await isIncomplete(dir))
    return { complete }
  }

  /** {migrationId, vmId} -> {deleted, error}: drop this migration's copy. */
  async abort(p: Record<string, any>): Promise<unknown> {
    const migrationId = requireText(p.migrationId, 'migrationId')
    const vmId = requireText(p.vmId, 'vmId')
    await this.stopRunning(vmId, migrationId)
    return { deleted: await this.dropCopy(vmId, migrationId), error: this.failures.get(migrationId) ?? null }
  }

  private async arrive(ch: VmmpChannel, inc: Incoming, signal: AbortSignal): Promise<void> {
    const { vmId, migrationId } = inc
    const progress = { done: 0, total: 0 }
    let beats = 0
    const beat = () => {
      if (this.opts.faults?.dropHeartbeats && beats > 0) return
      beats++
      ch.send({ type: 'HEARTBEAT', id: vmId })
      ch.sendProgress({ id: vmId, ...progress })
    }
    beat()
    const timer = setInterval(beat, this.opts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS)
    let socket: NoiseSocket | null = null
    let mediaPath: string | null = null
    const t0 = Date.now()
    const laps = new Laps()
    try {
      await this.useCache(vmId, this.hv.dirOf(vmId))
      laps.lap('cache')
      const source = await this.sourceFor(inc)
      socket = source.socket
      laps.lap('dial')
      const result = await this.pull(inc, source.src, signal, progress, laps)
      if (inc.media) {
        mediaPath = await this.fetchMedia(inc, source.src.mux ?? null, signal)
        inc.config = { ...inc.config, media: mediaPath }
        laps.lap('media')
      }
      const pulled = Date.now()
      await this.register(inc, result)
      laps.lap('register')
      // Copy = reaching the origin and pulling; verify = the method's checks plus registering.
      const verifyMs = (result.verifyMs ?? 0) + (Date.now() - pulled)
      const copyMs = Math.max(0, pulled - t0 - (result.verifyMs ?? 0))
      this.opts.log?.(
        `vmmp: ${vmId} arrived by ${inc.method} in ${Date.now() - t0} ms (${result.bytesOnWire} bytes on the ` +
          `wire, ${result.bytesWritten} written of ${result.bytesTotal}; ms: ${laps})`,
      )
      clearInterval(timer)
      ch.sendProgress({ id: vmId, done: progress.total, total: progress.total })
      ch.sendTiming({ id: vmId, copyMs, verifyMs })
      ch.send({ type: 'RESP', id: vmId, version: inc.version + 1, ok: true })
    } catch (err) {
      clearInterval(timer)
      this.opts.log?.(`vmmp: migration of ${vmId} failed here: ${errorInfo(err).message}`)
      this.failures.set(migrationId, errorInfo(err))
      if (this.failures.size > MAX_FAILURES_KEPT) this.failures.delete(this.failures.keys().next().value!)
      await this.dropCopy(vmId, migrationId).catch(() => {})
      if (mediaPath) await this.opts.forgetMedia?.(mediaPath).catch(() => {})
      ch.send({ type: 'RESP', id: vmId, version: inc.version, ok: false })
    } finally {
      clearInterval(timer)
      socket?.destroy()
    }
  }

  /** How to reach the origin: its SSH server for SCP, else a HyperDHT connection for blocks@1. */
  private async sourceFor(inc: Incoming): Promise<{ src: MigrationSource; socket: NoiseSocket | null }> {
    if (inc.method === 'SCP') {
      if (!inc.origin.sshPort) throw vmmpError.protocol('the origin has no SSH server for SCP')
      const o = inc.origin
      const ssh = {
        host: o.sshHost ?? '127.0.0.1',
        port: o.sshPort!,
        hostKey: o.sshHostKey ?? '',
        fingerprint: o.sshFingerprint ?? '',
        user: o.sshUser ?? '',
        key: o.sshKey ?? '',
      }
      return { src: { ssh }, socket: null }
    }
    const { socket, mux } = await (inc.link ?? this.dialOrigin(inc))
    return { src: { mux }, socket }
  }

  /** Run the method's pull; the freeBytes fault turns into VMMP_NO_SPACE once that much has arrived. */
  private async pull(
    inc: Incoming,
    src: MigrationSource,
    signal: AbortSignal,
    progress: { done: number; total: number },
    laps?: Laps,
  ): Promise<PullResult> {
    const dir = this.hv.dirOf(inc.vmId)
    const freeBytes = this.opts.faults?.freeBytes
    const inner = new AbortController()
    const onOuter = () => inner.abort()
    signal.addEventListener('abort', onOuter, { once: true })
    let full: VmmpError | null = null
    const result = await this.opts.methods
      .get(inc.method)
      .pull({
        migrationId: inc.migrationId,
        src,
        destDir: dir,
        cacheVersion: inc.version + 1,
        signal: inner.signal,
        stallMs: this.opts.stallMs ?? DEFAULT_STALL_MS,
        laps,
        onProgress: (d, t) => {
          progress.done = d
          progress.total = t
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
    return result
  }

  /** The machine's ISO from the origin (which serves it to this key for this migration only), verified. */
  private async fetchMedia(inc: Incoming, mux: Protomux | null, signal: AbortSignal): Promise<string> {
    const { digest, size } = inc.media!
    const store = this.opts.media!
    let socket: NoiseSocket | null = null
    if (!mux) {
      const what = `origin ${inc.origin.key.slice(0, 8)}`
      const opts = { keyPair: this.opts.keyPair, deadlineMs: ORIGIN_DIAL_MS, what }
      ;({ socket, mux } = await dialPeer(this.opts.dht, Buffer.from(inc.origin.key, 'hex'), opts))
    }
    try {
      await fetchImage({ store, digest, size, sources: [{ name: 'origin', mux }], stallMs: this.opts.stallMs, signal })
    } finally {
      socket?.destroy()
    }
    return store.pathOf(digest)
  }

  /** Mark the copy as this migration's and register the machine at VERSION+1 with its origin. */
  private async register(inc: Incoming, result: PullResult): Promise<void> {
    const dir = this.hv.dirOf(inc.vmId)
    // A cached older copy may hold files this version has not (a saved state from an earlier suspend).
    for (const f of result.extraFiles) await rm(join(dir, f), { force: true })
    await writeFile(join(dir, ARRIVED_MARKER), `${inc.migrationId}\n`)
    await this.hv.importVm(inc.vmId, inc.config, {
      version: inc.version + 1,
      origin: inc.origin.key,
      suspended: inc.suspended,
    })
  }

  private registered(vmId: string): Promise<boolean> {
    return this.hv.get(vmId).then(
      () => true,
      () => false,
    )
  }

  /** A copy left from an earlier visit becomes the RSYNC base; a stale unregistered directory goes. */
  private async useCache(vmId: string, dir: string): Promise<void> {
    if (await this.registered(vmId)) throw alreadyHere(vmId)
    const cache = join(this.hv.dir, CACHE_DIR, vmId)
    if (await pathExists(cache)) {
      await rm(dir, { recursive: true, force: true })
      await rename(cache, dir)
    } else if (await isIncomplete(dir)) {
      await rm(dir, { recursive: true, force: true })
    }
    await rm(join(dir, ARRIVED_MARKER), { force: true })
  }

  /** Stop a transfer of this migration if one runs here, and wait for it to clean up. */
  private async stopRunning(vmId: string, migrationId: string): Promise<void> {
    const r = this.running.get(vmId)
    const started = r?.migrationId === migrationId
    if (started) {
      r.ac.abort()
      await r.done.catch(() => {})
    }
    const inc = this.incoming.get(vmId)
    if (inc?.migrationId === migrationId) {
      this.incoming.delete(vmId)
      if (!started) hangUp(inc) // never started: nobody else closes its connection
    }
  }

  /** Delete what this migration put here, and only that (a later migration's copy is not ours). */
  private async dropCopy(vmId: string, migrationId: string): Promise<boolean> {
    const dir = this.hv.dirOf(vmId)
    const arrived = (await readFile(join(dir, ARRIVED_MARKER), 'utf8').catch(() => '')).trim()
    const partial = (await readFile(join(dir, INCOMPLETE_MARKER), 'utf8').catch(() => '')).trim()
    const registered = await this.registered(vmId)
    if (registered && arrived === migrationId) {
      const media = (await this.hv.get(vmId)).config.media
      await this.hv.delete(vmId) // removes the directory with it
      if (media) await this.opts.forgetMedia?.(media)
      return true
    }
    if (!registered && (arrived === migrationId || partial === migrationId || arrived === '')) {
      await rm(dir, { recursive: true, force: true })
      return true
    }
    return false
  }
}

/** Close the connection a prepared migration dialed, once it is up (a failed dial has none). */
function hangUp(inc: Incoming): void {
  inc.link?.then(
    (l) => l.socket.destroy(),
    () => {},
  )
}

function alreadyHere(vmId: string): HvError {
  return new HvError(HV_EXISTS, `machine ${vmId} is already registered here`)
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch {
    return false
  }
}
