// A minimal ssh2 Server that only serves migration SFTP shares, for tests and the benchmark on
// 127.0.0.1. A provider node mounts the same share on its console's SSH server instead
// (CredentialStore.sshCredential).
import ssh2 from 'ssh2'
import type { AddressInfo } from 'node:net'
import type { CredentialStore } from '../credentials.ts'
import { handleMigrationSftp } from './scp-server.ts'
import { requireNativeCrypto } from './scp.ts'
import { sshFingerprint } from '../../console/ssh.ts'
import { newEd25519Key } from '../../ssh-key.ts'

export interface MigrationSshServer {
  port: number
  hostKey: string
  /** What a destination pins (`SHA256:…`). */
  fingerprint: string
  close(): Promise<void>
}

export async function startMigrationSshServer(opts: {
  store: CredentialStore
  host?: string
  port?: number
  hostKey?: string
}): Promise<MigrationSshServer> {
  requireNativeCrypto()
  const store = opts.store
  const hostKey = opts.hostKey ?? newEd25519Key().private
  const parsed = ssh2.utils.parseKey(hostKey)
  if (parsed instanceof Error) throw parsed
  const fingerprint = sshFingerprint((Array.isArray(parsed) ? parsed[0] : parsed).getPublicSSH())
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
    fingerprint,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
