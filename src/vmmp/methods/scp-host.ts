// A minimal ssh2 Server that only serves migration SFTP shares: what tests and the benchmark run on
// 127.0.0.1, and a fallback for a provider without the console's SSH server. The console server
// mounts the same two functions (checkMigrationCredential, handleMigrationSftp) alongside consoles.
import ssh2 from 'ssh2'
import type { AddressInfo } from 'node:net'
import { CredentialStore, handleMigrationSftp, migrationCredentials } from './scp-server.ts'
import { requireNativeCrypto } from './scp.ts'

export interface MigrationSshServer {
  port: number
  hostKey: string
  close(): Promise<void>
}

export async function startMigrationSshServer(
  opts: { host?: string; port?: number; store?: CredentialStore; hostKey?: string } = {},
): Promise<MigrationSshServer> {
  requireNativeCrypto()
  const store = opts.store ?? migrationCredentials
  const hostKey = opts.hostKey ?? ssh2.utils.generateKeyPairSync('ed25519').private
  const server = new ssh2.Server({ hostKeys: [hostKey] }, (client) => {
    let share: ReturnType<CredentialStore['check']> = null
    client.on('error', () => {})
    client.on('authentication', (ctx) => {
      if (ctx.method === 'password' && (share = store.check(ctx.username, ctx.password))) return ctx.accept()
      ctx.reject(['password'])
    })
    client.on('ready', () => {
      client.on('session', (accept) => {
        const session = accept()
        session.on('sftp', (acceptSftp) => {
          if (share) handleMigrationSftp(acceptSftp(), share)
        })
      })
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve())
  })
  return {
    port: (server.address() as AddressInfo).port,
    hostKey,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
