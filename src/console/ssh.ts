// The provider's SSH server: any `ssh` client reaches a machine's console with
// `ssh -p PORT VMID@HOST` and the machine's console password. It is a console and nothing else:
// no shell, exec, forwarding, agent or X11 on the provider is ever offered (ssh2 refuses every
// request we do not listen for). Credentials are pluggable: each kind checks a user/password pair
// and, if it grants, gets the authenticated connection; the console password is the built-in kind.
// (SCP migration runs OpenSSH's sshd with this server's host key: vmmp/methods/scp-share.ts.)
import { readFile, chmod } from 'node:fs/promises'
import { writeOnceAtomic } from '../secret-file.ts'
import { newEd25519Key } from '../ssh-key.ts'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import ssh2 from 'ssh2'
import type { Connection, AuthContext, Session, ServerChannel } from 'ssh2'
import type { ConsoleScreens } from './screens.ts'
import type { ConsolePasswords } from './passwords.ts'
import { errorInfo } from '../errors.ts'
import { privateDir } from '../secret-file.ts'
import { afterFailure, failureTables, type FailureCounts, type FailureTables } from './ssh-guard.ts'
import type { Socket } from 'node:net'
import { ConsoleError, CONSOLE_HOST_KEY } from './errors.ts'

export const DEFAULT_SSH_HOST = '127.0.0.1'
/** First wait after a wrong password; it doubles for each further failure on the same user. */
export const DEFAULT_FAIL_DELAY_MS = 1000
export const DEFAULT_MAX_FAIL_DELAY_MS = 16_000
/** Failures are forgiven after this long without another one. */
export const FAIL_MEMORY_MS = 10 * 60_000
/** A connection gets this many password tries, then it is dropped. */
export const MAX_TRIES_PER_CONNECTION = 3
/** A connection that has not logged in by then is dropped (OpenSSH's LoginGraceTime is 120 s). */
export const DEFAULT_AUTH_TIMEOUT_MS = 30_000
/** Open connections, all clients together and from one address. */
export const DEFAULT_MAX_CONNECTIONS = 64
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 8
export const HOST_KEY_FILE = 'ssh_host_ed25519_key'

/** What a credential grants: `kind` picks the handler, `subject` is what it is for (a machine id). */
export interface SshGrant {
  kind: string
  subject: string
}

export interface SshCredential {
  kind: string
  /** A grant, or null if this credential kind does not accept the pair (never throws for a wrong one). */
  check(username: string, password: string): Promise<SshGrant | null>
  /** Serve the authenticated connection: listen only for what this grant allows. */
  serve(grant: SshGrant, client: Connection): void
}

export interface SshConsoleOptions {
  screens: ConsoleScreens
  passwords: ConsolePasswords
  /** Where the host key is kept (the node's data dir). */
  dataDir: string
  host?: string
  /** 0 = any free port (then read `.port`). */
  port?: number
  failDelayMs?: number
  maxFailDelayMs?: number
  authTimeoutMs?: number
  maxConnections?: number
  maxConnectionsPerAddress?: number
  /** Entries per failure table (user names, addresses); the one idle longest goes first. */
  maxFailureKeys?: number
  /** Failure tables shared with the VNC screen's password check (default: tables of its own). */
  failures?: FailureTables
  /** More credential kinds, tried after the console password. */
  credentials?: SshCredential[]
  log?: (line: string) => void
}

export interface HostKey {
  privateKey: string
  publicKey: string
  fingerprint: string
}

/** The host key, made once and kept (mode 0600): clients pin it, so it must survive restarts. */
export async function loadHostKey(dir: string): Promise<HostKey> {
  await privateDir(dir)
  const file = join(dir, HOST_KEY_FILE)
  let privateKey: string
  try {
    privateKey = await readFile(file, 'utf8')
  } catch (err: any) {
    if (err.code !== 'ENOENT') throw err
    privateKey = await writeOnceAtomic(file, newEd25519Key().private)
  }
  await chmod(file, 0o600)
  const parsed = ssh2.utils.parseKey(privateKey)
  if (parsed instanceof Error)
    throw new ConsoleError(
      CONSOLE_HOST_KEY,
      `${file} is not a usable host key (${parsed.message}); move it away to make a new one`,
      { cause: parsed },
    )
  const key = Array.isArray(parsed) ? parsed[0] : parsed
  const blob = key.getPublicSSH()
  return { privateKey, publicKey: `${key.type} ${blob.toString('base64')}`, fingerprint: sshFingerprint(blob) }
}

/** The OpenSSH way: SHA256 of the public key blob, base64 without padding (`ssh-keygen -lf`). */
export function sshFingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')
}

export class SshConsoleServer {
  private server: ssh2.Server | null = null
  private clients = new Set<Connection>()
  /** Failed logins per user name and per client address (ssh-guard.ts). */
  readonly failures: FailureTables
  private perAddress = new Map<string, number>()
  private authed = new WeakSet<Socket>()
  private credentials: SshCredential[]
  hostKey: HostKey | null = null
  port = 0

  constructor(private opts: SshConsoleOptions) {
    this.credentials = [consoleCredential(opts.screens, opts.passwords), ...(opts.credentials ?? [])]
    this.failures = opts.failures ?? failureTables(FAIL_MEMORY_MS, opts.maxFailureKeys)
  }

  get userFailures(): FailureCounts {
    return this.failures.users
  }

  get addressFailures(): FailureCounts {
    return this.failures.addresses
  }

  /** Open TCP connections (logged in or not). */
  get connections(): number {
    let n = 0
    for (const c of this.perAddress.values()) n += c
    return n
  }

  get fingerprint(): string | null {
    return this.hostKey?.fingerprint ?? null
  }

  /** Add a credential kind while running (e.g. a migration's one-time login). */
  addCredential(c: SshCredential): void {
    this.credentials.push(c)
  }

  async start(): Promise<{ host: string; port: number; fingerprint: string }> {
    this.hostKey = await loadHostKey(this.opts.dataDir)
    const server = new ssh2.Server({ hostKeys: [this.hostKey.privateKey], ident: 'virtuoso-console' }, (client, info) =>
      this.onClient(client, info),
    )
    this.server = server
    server.maxConnections = this.opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS
    // Before any SSH byte: ssh2 only reports a client once it sent its version line, and a socket
    // that never does must not stay open either.
    ;(server as unknown as { _srv: import('node:net').Server })._srv.on('connection', (sock) => this.onSocket(sock))
    const host = this.opts.host ?? DEFAULT_SSH_HOST
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.opts.port ?? 0, host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    this.port = (server.address() as { port: number }).port
    return { host, port: this.port, fingerprint: this.hostKey.fingerprint }
  }

  async close(): Promise<void> {
    for (const c of this.clients) c.end()
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()))
    this.server = null
  }

  private onSocket(sock: Socket): void {
    if (sock.destroyed) return // over ssh2's own cap: already gone
    const addr = sock.remoteAddress ?? '?'
    const open = (this.perAddress.get(addr) ?? 0) + 1
    this.perAddress.set(addr, open)
    const timer = setTimeout(() => {
      if (!this.authed.has(sock)) sock.destroy()
    }, this.opts.authTimeoutMs ?? DEFAULT_AUTH_TIMEOUT_MS)
    timer.unref()
    sock.once('close', () => {
      clearTimeout(timer)
      const left = (this.perAddress.get(addr) ?? 1) - 1
      if (left > 0) this.perAddress.set(addr, left)
      else this.perAddress.delete(addr)
    })
    if (open > (this.opts.maxConnectionsPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS)) sock.destroy()
  }

  private onClient(client: Connection, info: { ip?: string }): void {
    const address = info?.ip ?? '?'
    this.clients.add(client)
    client.on('error', () => {})
    client.on('close', () => this.clients.delete(client))
    let tries = 0
    let grant: { g: SshGrant; c: SshCredential } | null = null
    client.on('authentication', (ctx: AuthContext) => {
      if (ctx.method !== 'password') return ctx.reject(['password'])
      tries++
      void this.checkPassword(ctx.username, ctx.password, address).then(
        (found) => {
          if (found) {
            grant = found
            return ctx.accept()
          }
          ctx.reject(['password'])
          if (tries >= MAX_TRIES_PER_CONNECTION) client.end()
        },
        () => ctx.reject(['password']),
      )
    })
    client.on('ready', () => {
      if (!grant) return client.end()
      const sock = (client as unknown as { _sock?: Socket })._sock
      if (sock) this.authed.add(sock)
      this.opts.log?.(`ssh: ${grant.g.kind} login for ${grant.g.subject}`)
      grant.c.serve(grant.g, client)
    })
  }

  /** The grant a user/password pair opens, or null after the wait its failures have earned. */
  async checkPassword(
    username: string,
    password: string,
    address = '?',
  ): Promise<{ g: SshGrant; c: SshCredential } | null> {
    for (const c of this.credentials) {
      const g = await c.check(username, password).catch(() => null)
      if (g) {
        this.userFailures.clear(username)
        return { g, c }
      }
    }
    // Slow guessing down: the wait grows with each failure on this user, whatever connection it
    // uses, and with each failure from this address, whatever user it tries.
    await afterFailure(this.failures, username, address, {
      baseMs: this.opts.failDelayMs ?? DEFAULT_FAIL_DELAY_MS,
      maxMs: this.opts.maxFailDelayMs ?? DEFAULT_MAX_FAIL_DELAY_MS,
    })
    return null
  }
}

/** Username = machine id, password = its console password; grants the machine's console in a PTY. */
export function consoleCredential(screens: ConsoleScreens, passwords: ConsolePasswords): SshCredential {
  return {
    kind: 'console',
    async check(username, password) {
      return (await passwords.verify(username, password)) ? { kind: 'console', subject: username } : null
    },
    serve(grant, client) {
      client.on('session', (acceptSession) => serveConsoleSession(grant.subject, acceptSession(), client, screens))
    },
  }
}

function serveConsoleSession(vmId: string, session: Session, client: Connection, screens: ConsoleScreens): void {
  let size = { cols: 80, rows: 24 }
  let attachment: { resize(c: number, r: number): void } | null = null
  session.on('pty', (accept, _reject, info) => {
    size = { cols: info.cols || 80, rows: info.rows || 24 }
    accept?.()
  })
  session.on('window-change', (accept, _reject, info) => {
    size = { cols: info.cols || size.cols, rows: info.rows || size.rows }
    attachment?.resize(size.cols, size.rows)
    accept?.()
  })
  session.on('shell', (accept) => {
    const ch: ServerChannel = accept()
    let over = false
    const hangUp = (message: string, status: number) => {
      if (over) return
      over = true
      ch.write(`\r\n[virtuoso: ${message}]\r\n`)
      ch.exit(status)
      ch.end()
      setTimeout(() => client.end(), 100).unref()
    }
    screens.get(vmId).then(
      (screen) => {
        if (over) return
        const a = screen.attach(
          {
            write: (b) => {
              if (!over) ch.write(b)
            },
            close: (reason) => hangUp(reason.message, 0),
          },
          size,
        )
        attachment = a
        ch.on('data', (d: Buffer) => a.input(d))
        ch.on('close', () => {
          over = true
          a.detach()
        })
      },
      (err) => hangUp(errorInfo(err).message, 1),
    )
  })
}
