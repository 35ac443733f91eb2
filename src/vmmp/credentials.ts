// The SSH logins SCP migrations use. The hub hands the same random secret to both providers for one
// migration; the origin's store admits (user = migration id, password = secret) ONCE: the first
// login spends the grant (the destination's one SSH connection carries the whole copy), so a secret
// that leaks later opens nothing. An unused grant ends at the release or after a few minutes, and
// it only ever opens that machine's files, read-only, for the migration it names. Each origin owns
// its store (no process-wide state): two nodes in one process never see each other's grants.
import type { Connection } from 'ssh2'
import { timingSafeEqual, createHash } from 'node:crypto'
import type { SshCredential } from '../console/ssh.ts'
import { vmmpError } from './errors.ts'
import { handleMigrationSftp } from './methods/scp-server.ts'

/** The destination logs in within seconds of the grant (prepare, then REQ); minutes cover a slow hub. */
export const DEFAULT_CREDENTIAL_TTL_MS = 5 * 60_000

export interface MigrationShare {
  dir: string
  files: string[]
  version?: number | null
}
export interface MigrationGrant extends MigrationShare {
  migrationId: string
  secret: string
  expiresAt: number
}

export interface CredentialStoreOptions {
  /** Milliseconds since the epoch; tests move it instead of waiting. */
  clock?: () => number
  ttlMs?: number
}

export class CredentialStore {
  private grants = new Map<string, MigrationGrant>()

  constructor(private opts: CredentialStoreOptions = {}) {}

  private now(): number {
    return this.opts.clock?.() ?? Date.now()
  }

  grant(g: { migrationId: string; secret: string; ttlMs?: number } & MigrationShare): void {
    if (g.secret.length < 16) throw vmmpError.bad('a migration secret needs at least 16 characters')
    const ttl = g.ttlMs ?? this.opts.ttlMs ?? DEFAULT_CREDENTIAL_TTL_MS
    this.grants.set(g.migrationId, { ...g, expiresAt: this.now() + ttl })
  }

  revoke(migrationId: string): void {
    this.grants.delete(migrationId)
  }

  /** Unused grants (expired ones are dropped as they are met). */
  get size(): number {
    return this.grants.size
  }

  /** The share a (user = migration id, password = secret) pair unlocks, or null; a match spends the
   *  grant. Constant-time on the secret; a wrong secret leaves the grant for the real destination. */
  check(user: string, password: string): MigrationShare | null {
    const g = this.grants.get(user)
    if (!g) return null
    if (g.expiresAt <= this.now()) {
      this.grants.delete(user)
      return null
    }
    const a = createHash('sha256').update(g.secret).digest()
    const b = createHash('sha256').update(String(password)).digest()
    if (!timingSafeEqual(a, b)) return null
    this.grants.delete(user)
    return { dir: g.dir, files: g.files, version: g.version ?? null }
  }

  /** The login kind the provider's SSH server mounts beside the console's: SFTP of the granted share. */
  sshCredential(): SshCredential {
    const shares = new Map<string, MigrationShare>()
    return {
      kind: 'migration',
      check: async (username, password) => {
        const share = this.check(username, password)
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
