// The origin's side of SCP for one migration: OpenSSH's sshd in inetd mode (`sshd -i`), one process per
// TCP connection this share accepts on its own port, with a config made for this migration alone (in a
// 0700 directory, removed at the end). Its only authorized key is a one-time ed25519 key made here,
// `restrict`ed (no shell, pty, forwarding, agent or X11) to one forced command: `cat` of a FIFO that this
// process fills with scp-stream.ts's stream of the machine's listed files, read-only. So the destination,
// whatever it asks for, reads exactly those bytes and nothing else of this host.
// Single use: the first login that sshd accepts spends the key (the listener closes, the key file goes);
// before that, a connection after `expiresAt` closes the share. `close()` ends every process it started.
// Why OpenSSH and not ssh2: on this 2-core machine OpenSSH moved ~245 MiB/s (aes128-gcm more), ssh2 ~90.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { ended, killGroup } from './child-end.ts'
import { createServer, Socket, type Server } from 'node:net'
import { constants, openSync, closeSync } from 'node:fs'
import { mkdir, open, rm, unlink, writeFile, type FileHandle } from 'node:fs/promises'
import { userInfo } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { newEd25519Key } from '../../ssh-key.ts'
import { vmmpError } from '../errors.ts'
import { parseManifest } from '../manifest.ts'
import { RUN_MAX, TEMP_PREFIX, planRuns, streamHead } from './scp-stream.ts'
import { ownedTempDir } from './owned-temp.ts'

export const SSHD = '/usr/sbin/sshd'
/** Unauthenticated sshd processes at once: strangers on the port cost at most this many. */
const MAX_PENDING = 4
const BUFFERS = 4
/** How often to look whether the forced `cat` opened the FIFO yet (it does within ms of the login). */
const READER_POLL_MS = 5
const SAFE_PATH = /^[\w./-]+$/
/** Shells that refuse to run commands. */
const NO_LOGIN = /\/(nologin|false)$/

export interface ScpShareOptions {
  migrationId: string
  dir: string
  files: string[]
  /** Where to listen (the address the node's SSH console listens on) and the host key the hub pins. */
  host: string
  hostKeyFile: string
  /** The manifest of exactly these files, serialized (manifest.ts). */
  manifest: () => Promise<Buffer>
  expiresAt: number
  clock?: () => number
  /** Fault injection (tests): flip the first byte of every run sent. */
  corrupt?: boolean
  log?: (line: string) => void
}

export class ScpShare {
  /** The account this node runs as: sshd logs the destination in as it, and runs commands through its shell. */
  private account = userInfo()
  readonly user = this.account.username
  port = 0
  /** The one-time key's private half (OpenSSH format), for the destination. */
  clientKey = ''
  private server: Server | null = null
  private tmp = ''
  private children = new Set<ChildProcess>()
  private session: ChildProcess | null = null
  private out: Socket | null = null
  private closing: Promise<void> | null = null
  /** Settles when the share is closed (session over, expired, revoked). */
  readonly done: Promise<void>
  private markDone: () => void = () => {}

  private constructor(private o: ScpShareOptions) {
    this.done = new Promise((resolve) => (this.markDone = resolve))
  }

  static async open(o: ScpShareOptions): Promise<ScpShare> {
    const share = new ScpShare(o)
    try {
      await share.start()
    } catch (err) {
      await share.close()
      throw err
    }
    return share
  }

  private get fifo(): string {
    return join(this.tmp, 'stream')
  }

  private async start(): Promise<void> {
    // sshd runs even a forced command through the user's shell (`shell -c command`): with nologin or
    // false it would print "This account is currently not available" instead of the stream.
    const shell = this.account.shell ?? ''
    if (!shell || NO_LOGIN.test(shell))
      throw vmmpError.methodUnavailable(
        'SCP',
        `its sshd runs commands through the shell of user ${this.user}, which is ${shell || 'none'}; ` +
          `give that user a shell (usermod -s /bin/sh ${this.user}) or migrate with RSYNC`,
      )
    this.tmp = await ownedTempDir(TEMP_PREFIX) // mode 0700
    if (!SAFE_PATH.test(this.tmp)) throw vmmpError.io('preparing SCP', `unusable temp path ${this.tmp}`)
    if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true }).catch(() => {}) // privsep dir
    await promisify(execFile)('mkfifo', ['-m', '600', this.fifo])
    const key = newEd25519Key(`virtuoso-migration-${this.o.migrationId}`)
    this.clientKey = key.private
    const force = `restrict,command="exec /bin/cat -- ${this.fifo}"`
    await writeFile(join(this.tmp, 'authorized_keys'), `${force} ${key.public}\n`, { mode: 0o600 })
    await writeFile(join(this.tmp, 'sshd_config'), sshdConfig(this.tmp, this.o.hostKeyFile, this.user), {
      mode: 0o600,
    })
    const server = createServer({ pauseOnConnect: true }, (sock) => this.onConnection(sock))
    this.server = server
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, this.o.host, () => resolve())
    })
    server.on('error', () => {})
    this.port = (server.address() as { port: number }).port
    const left = this.o.expiresAt - this.now()
    setTimeout(() => void this.close(), Math.max(0, left)).unref()
  }

  private now(): number {
    return this.o.clock?.() ?? Date.now()
  }

  private onConnection(sock: Socket): void {
    sock.on('error', () => {})
    if (this.closing || this.session || this.now() >= this.o.expiresAt || this.children.size >= MAX_PENDING) {
      sock.destroy()
      if (this.now() >= this.o.expiresAt) void this.close()
      return
    }
    const child = spawn(SSHD, ['-i', '-e', '-f', join(this.tmp, 'sshd_config')], {
      stdio: [sock, sock, 'pipe'],
      detached: true,
    })
    sock.destroy() // sshd has its own copy of the socket
    this.children.add(child)
    let log = ''
    child.stderr!.on('data', (d: Buffer) => {
      const text = d.toString()
      log = (log + text).slice(-4096)
      if (!this.session && !this.closing && /Accepted publickey for /.test(log)) this.accepted(child)
      // Why sshd turned a login away (a locked account, say): the destination only sees "denied".
      const refused = /^.*not allowed because.*$/m.exec(text)
      if (refused) this.o.log?.(`vmmp: SCP login for ${this.o.migrationId} refused by sshd: ${refused[0].trim()}`)
    })
    child.on('error', (err) => this.o.log?.(`vmmp: SCP could not start sshd: ${err.message}`))
    child.on('exit', () => {
      this.children.delete(child)
      if (child === this.session) void this.close()
    })
  }

  /** The one login this share allows happened: nobody else gets in, and the stream starts. */
  private accepted(child: ChildProcess): void {
    this.session = child
    this.server?.close()
    unlink(join(this.tmp, 'authorized_keys')).catch(() => {})
    for (const c of this.children) if (c !== child) killGroup(c)
    this.send().catch((err) => {
      this.o.log?.(`vmmp: SCP stream of ${this.o.migrationId} stopped: ${err.message}`)
      void this.close()
    })
  }

  private async send(): Promise<void> {
    const raw = await this.o.manifest()
    const manifest = parseManifest(raw)
    if (!manifest) throw vmmpError.corrupt('the origin made an unreadable manifest')
    const fd = await this.reader()
    if (fd === null) return
    // A libuv pipe writes the FIFO without tying up a thread; a reader that dies is an EPIPE here.
    const out = new Socket({ fd, readable: false })
    this.out = out
    out.on('error', () => {})
    out.write(streamHead(raw))
    out.write(raw)
    const handles: FileHandle[] = []
    try {
      for (const f of manifest.files) handles.push(await open(join(this.o.dir, f.name), 'r'))
      const free = Array.from({ length: BUFFERS }, () => Buffer.allocUnsafeSlow(RUN_MAX))
      let wake: (() => void) | null = null
      for (const run of planRuns(manifest.files)) {
        while (!free.length && !this.closing && !out.destroyed) await new Promise<void>((resolve) => (wake = resolve))
        if (this.closing || out.destroyed) return // the session ended (the destination hung up)
        const buf = free.pop()!
        await readFully(handles[run.file], buf, run.len, run.pos)
        if (this.o.corrupt) buf[0] ^= 0xff
        out.write(buf.subarray(0, run.len), () => {
          free.push(buf)
          wake?.()
        })
      }
      await new Promise<void>((resolve) => {
        out.once('close', () => resolve())
        out.end()
      })
    } finally {
      await Promise.all(handles.map((h) => h.close().catch(() => {})))
    }
  }

  /** The FIFO opened for writing once `cat` opened it for reading (before that, bytes written would
   *  be dropped with the pipe when we close it); null if the share closes first. */
  private async reader(): Promise<number | null> {
    for (;;) {
      if (this.closing) return null
      try {
        return openSync(this.fifo, constants.O_WRONLY | constants.O_NONBLOCK)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENXIO') throw err // ENXIO: no reader yet
      }
      await new Promise((resolve) => setTimeout(resolve, READER_POLL_MS))
    }
  }

  /** Ends every process of this share and removes its files; safe to call more than once. */
  close(): Promise<void> {
    return (this.closing ??= this.shutdown())
  }

  private async shutdown(): Promise<void> {
    this.server?.close()
    this.out?.destroy()
    // A `cat` waiting in open() for a writer would wait forever: give it one that closes at once.
    if (this.tmp) {
      try {
        closeSync(openSync(this.fifo, constants.O_WRONLY | constants.O_NONBLOCK))
      } catch {
        // ENXIO: no reader waits; ENOENT: never made
      }
    }
    await Promise.all([...this.children].map((c) => ended(c)))
    if (this.tmp) await rm(this.tmp, { recursive: true, force: true }).catch(() => {})
    this.markDone()
  }
}

function sshdConfig(tmp: string, hostKeyFile: string, user: string): string {
  return [
    `HostKey ${hostKeyFile}`,
    `AuthorizedKeysFile ${join(tmp, 'authorized_keys')}`,
    'AuthorizedKeysCommand none',
    `AllowUsers ${user}`,
    'AuthenticationMethods publickey',
    'PubkeyAcceptedAlgorithms ssh-ed25519',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'HostbasedAuthentication no',
    'UsePAM no',
    'PermitRootLogin forced-commands-only',
    // Our files are 0600 in a 0700 directory; the temp dir above it is world-writable (sticky).
    'StrictModes no',
    'DisableForwarding yes',
    'PermitTTY no',
    'PermitUserRC no',
    'PermitUserEnvironment no',
    'MaxAuthTries 2',
    'MaxSessions 1',
    'LoginGraceTime 20',
    'ClientAliveInterval 5',
    'ClientAliveCountMax 3',
    'PidFile none',
    'LogLevel INFO',
    '',
  ].join('\n')
}

async function readFully(fh: FileHandle, buf: Buffer, len: number, pos: number): Promise<void> {
  for (let got = 0; got < len;) {
    const { bytesRead } = await fh.read(buf, got, len - got, pos + got)
    if (bytesRead === 0) throw vmmpError.io('reading a machine file', 'it is shorter than its manifest')
    got += bytesRead
  }
}
