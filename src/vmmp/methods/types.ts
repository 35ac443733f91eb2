// The contract every migration method meets, so the provider's migration server and the hub's
// agent drive RSYNC, SCP and any later method the same way (report §7.1.2: a new method plugs in
// without touching the agent).
import type { FileHandle } from 'node:fs/promises'
import type Protomux from 'protomux'
import type { Authorize } from '../blocks.ts'
import type { Laps } from '../laps.ts'

/** How the destination reaches the origin for this migration; each method uses the part it needs. */
export interface MigrationSource {
  /** The protomux of the destination's HyperDHT connection to the origin (RSYNC: blocks@1). */
  mux?: Protomux
  /** SCP: the origin's one-time sshd (address and port), its host key (`ssh-ed25519 …`) and fingerprint
   *  as the hub learned them from the origin node, and the one-time login the origin made for this
   *  migration (user name, private key in OpenSSH format). */
  ssh?: { host: string; port: number; hostKey: string; fingerprint: string; user: string; key: string }
}

export interface PullOptions {
  /** The migration id: names the blocks@1 channel and the SSH user; the origin authorizes by it. */
  migrationId: string
  src: MigrationSource
  /** The machine directory on the destination (`Hypervisor.dirOf(id)`); created if missing. */
  destDir: string
  /** Cache the arrived manifest as this version (`.manifest-<version>.bin`) for the next visit. */
  cacheVersion?: number | null
  /** Bytes done of bytes to do; called often, cheap. */
  onProgress?: (bytesDone: number, bytesTotal: number) => void
  signal?: AbortSignal
  /** No bytes and no keepalive for this long = VMMP_STALLED (default 10 s). */
  stallMs?: number
  /** Where the pull's time goes, step by step (the destination logs it). */
  laps?: Laps
  /** Bytes written to a file between background syncs (flusher.ts). */
  flushEvery?: number
  /** Opens the files written (a test seam: a wrapper sees every write and sync). */
  openFile?: (path: string, flags: string) => Promise<FileHandle>
}

export interface PullResult {
  method: string
  /** Files now in destDir, relative names, as the origin listed them. */
  files: string[]
  /** Payload and framing received and sent for this transfer (manifest included). */
  bytesOnWire: number
  /** Bytes written to the destination's disk (zeros skipped in fresh files are not counted). */
  bytesWritten: number
  /** Sum of the files' sizes. */
  bytesTotal: number
  /** Files in destDir the origin did not list (e.g. a stale saved state): the caller decides. */
  extraFiles: string[]
  verified: true
  /** Of the pull's time, the part spent syncing and checking what arrived (the rest is copying). */
  verifyMs?: number
}

export interface ServeContext {
  /** Resolve a migration id (and the remote's key) to the machine files it may read, or null. */
  authorize: Authorize
}

export interface MigrationMethod {
  /** The VMMP method token (RSYNC, SCP, …): upper case, as in RESULTS and REQ. */
  readonly name: string
  /** Destination side: fetch the machine's files into destDir, verified, or throw a VMMP_* error. */
  pull(opts: PullOptions): Promise<PullResult>
  /** Origin side, where the method has one on a protomux connection: start answering; returns a stop function. */
  serve?(mux: Protomux, ctx: ServeContext): () => void
}
