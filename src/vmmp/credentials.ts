// The SSH logins SCP migrations use. The hub hands the same random secret to both providers for one
// migration; the origin's store admits (user = migration id, password = secret) until the migration
// is released or the grant expires, and then only to that machine's files, read-only. Each origin
// owns its store (no process-wide state): two nodes in one process never see each other's grants.
import type { Connection } from 'ssh2'
import { timingSafeEqual, createHash } from 'node:crypto'
import type { SshCredential } from '../console/ssh.ts'
import { vmmpError } from './errors.ts'
import { handleMigrationSftp } from './methods/scp-server.ts'

export const DEFAULT_CREDENTIAL_TTL_MS = 60 * 60 * 1000

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

export class CredentialStore {
  private grants = new Map<string, MigrationGrant>()

  grant(g: { migrationId: string; secret: string; ttlMs?: number } & MigrationShare): void {
    if (g.secret.length < 16) throw vmmpError.bad('a migration secret needs at least 16 characters')
    this.grants.set(g.migrationId, { ...g, expiresAt: Date.now() + (g.ttlMs ?? DEFAULT_CREDENTIAL_TTL_MS) })
  }

  revoke(migrationId: string): void {
    this.grants.delete(migrationId)
  }

  /** The share a (user = migration id, password = secret) pair unlocks, or null. Constant-time on the secret. */
  check(user: string, password: string): MigrationShare | null {
    const g = this.grants.get(user)
    if (!g) return null
    if (g.expiresAt < Date.now()) {
      this.grants.delete(user)
      return null
    }
    const a = createHash('sha256').update(g.secret).digest()
    const b = createHash('sha256').update(String(password)).digest()
    return timingSafeEqual(a, b) ? { dir: g.dir, files: g.files, version: g.version ?? null } : null
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
