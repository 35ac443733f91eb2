// The SCP logins an origin grants: one ScpShare (methods/scp-share.ts) per migration, each with its own
// port, one-time key and sshd configuration. A share admits one login, the first that sshd accepts
// with the migration's key: the destination's one SSH session carries the whole copy, so a key that
// leaks later opens nothing. An unused share ends at the release or after a few minutes, and it only
// ever sends that machine's files, read-only, for the migration it names. Each origin owns its store
// (no process-wide state): two nodes in one process never see each other's shares.
import { ScpShare } from './methods/scp-share.ts'
import { manifestFor, serializeManifest } from './manifest.ts'

/** The destination logs in within seconds of the grant (prepare, then REQ); minutes cover a slow hub. */
export const DEFAULT_CREDENTIAL_TTL_MS = 5 * 60_000

export interface MigrationShare {
  dir: string
  files: string[]
  version?: number | null
}

/** What the destination needs to log in: the share's port, the login name and the one-time key. */
export interface ScpLogin {
  port: number
  user: string
  key: string
}

export interface CredentialStoreOptions {
  /** Milliseconds since the epoch; tests move it instead of waiting. */
  clock?: () => number
  ttlMs?: number
  /** Where the node's SSH console listens and its host key file (the key the hub pins), or null. */
  ssh?: () => { host: string; hostKeyFile: string } | null
  /** Fault injection (tests): the origin sends every run with its first byte flipped. */
  corrupt?: boolean
  log?: (line: string) => void
}

export class CredentialStore {
  private shares = new Map<string, ScpShare>()

  constructor(private opts: CredentialStoreOptions = {}) {}

  /** Opens the migration's share; null when this node has no SSH console (no host key the hub pins). */
  async grant(
    g: { migrationId: string; ttlMs?: number; ready?: () => Promise<unknown> } & MigrationShare,
  ): Promise<ScpLogin | null> {
    const ssh = this.opts.ssh?.() ?? null
    if (!ssh) return null
    await this.revoke(g.migrationId)
    const ttl = g.ttlMs ?? this.opts.ttlMs ?? DEFAULT_CREDENTIAL_TTL_MS
    const share = await ScpShare.open({
      migrationId: g.migrationId,
      dir: g.dir,
      files: g.files,
      host: ssh.host,
      hostKeyFile: ssh.hostKeyFile,
      // After the background hash of the machine at rest (warm-manifests.ts), when there is one.
      manifest: async () => {
        await g.ready?.()
        return serializeManifest(await manifestFor(g.dir, g.files, g.version ?? null))
      },
      expiresAt: (this.opts.clock?.() ?? Date.now()) + ttl,
      clock: this.opts.clock,
      corrupt: this.opts.corrupt,
      log: this.opts.log,
    })
    this.shares.set(g.migrationId, share)
    void share.done.then(() => {
      if (this.shares.get(g.migrationId) === share) this.shares.delete(g.migrationId)
    })
    return { port: share.port, user: share.user, key: share.clientKey }
  }

  /** Ends the migration's share and every process it started. */
  async revoke(migrationId: string): Promise<void> {
    const share = this.shares.get(migrationId)
    this.shares.delete(migrationId)
    await share?.close()
  }

  /** Open shares (used or not). */
  get size(): number {
    return this.shares.size
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.shares.keys()].map((id) => this.revoke(id)))
  }
}
