// The origin's side of SCP: an SFTP subsystem restricted, read-only, to one machine's files, for one
// migration's credential (credentials.ts). The provider's ssh2 server mounts it: on authentication it
// asks the origin's CredentialStore; on an 'sftp' session it calls `handleMigrationSftp`.
// Besides the machine's files the root lists one virtual file, `.vmmp-manifest` (the block manifest,
// manifest.ts's binary form), so the destination can skip zero blocks and verify every block.
// Backpressure: ssh2's SFTP server has no drain signal; a reply the peer's SSH window has no room for
// waits in the SFTP object (`_buffer`, SFTP.js sendOrBuffer), and one sent waits in the socket. A
// destination holding the credential that sends READs and reads no answer would make us read the
// disk into those buffers without bound. So READs wait in a queue per session, at most READS_AT_ONCE
// disk reads run, and none starts while MAX_UNSENT bytes of replies are unsent; a peer that exceeds
// MAX_WAITING_READS, or keeps sending other requests past MAX_UNSENT_HARD, has its session ended.
import { open, type FileHandle } from 'node:fs/promises'
import type { Socket } from 'node:net'
import type { EventEmitter } from 'node:events'
import { join } from 'node:path'
import ssh2 from 'ssh2'
import type { Attributes, SFTPWrapper } from 'ssh2'
import { manifestFor, serializeManifest } from '../manifest.ts'
import type { MigrationShare } from '../credentials.ts'

const { STATUS_CODE, OPEN_MODE } = ssh2.utils.sftp
export const MANIFEST_FILE = '.vmmp-manifest'
/** Reads larger than this are clipped: 256 KiB matches OpenSSH's packet limit, and our client's request size. */
export const MAX_READ = 256 * 1024

/** Disk reads at once per session; our client keeps 64 READs in flight (scp.ts), the rest wait here. */
export const READS_AT_ONCE = 8
/** No new disk read while this much of a session's replies is unsent (inside ssh2 or the socket). */
export const MAX_UNSENT = 4 * 1024 * 1024
/** Waiting READs per session: far above any client of ours; a peer past it is hung up. */
export const MAX_WAITING_READS = 1024
/** Unsent replies past this (small answers to requests a peer keeps sending while not reading): hung up. */
export const MAX_UNSENT_HARD = 16 * 1024 * 1024

/** The ssh2 internals backpressure reads (ssh2 1.17: SFTP.js `_buffer`, the connection's `_sock`). */
interface SftpInternals {
  _buffer?: Buffer[]
  _client?: { _sock?: Socket }
}

type Open =
  { kind: 'file'; fh: FileHandle; size: number } | { kind: 'mem'; data: Buffer } | { kind: 'dir'; listed: boolean }

const clean = (p: string) => p.replace(/^\/+/, '').replace(/^\.\//, '')
const isRoot = (name: string) => name === '' || name === '.'
const fileAttrs = (size: number, dir = false): Attributes => ({
  mode: dir ? 0o40555 : 0o100444,
  uid: 0,
  gid: 0,
  size,
  atime: 0,
  mtime: 0,
})
const REFUSED = [
  'WRITE',
  'FSETSTAT',
  'SETSTAT',
  'REMOVE',
  'RMDIR',
  'MKDIR',
  'RENAME',
  'READLINK',
  'SYMLINK',
  'EXTENDED',
]

/** Serve one SFTP session: only OPEN(read)/READ/STAT/CLOSE/readdir of the share; every write is refused. */
export function handleMigrationSftp(sftp: SFTPWrapper, share: MigrationShare): void {
  const internals = sftp as unknown as SftpInternals
  const sock = internals._client?._sock
  // Without the socket there is no measure of what is unsent: refuse rather than buffer without bound.
  if (typeof sock?.writableLength !== 'number' || !Array.isArray(internals._buffer)) return void sftp.destroy()
  new ShareSession(sftp, share, sock)
}

interface WaitingRead {
  reqid: number
  handle: Buffer
  offset: number
  length: number
}

/** One SFTP session on a share: its open handles, and an answer to each request it takes. */
class ShareSession {
  private handles = new Map<number, Open>()
  private nextHandle = 1
  private manifest: Promise<Buffer> | null = null
  private allowed: Set<string>
  private waiting: WaitingRead[] = []
  private reading = 0
  private readingBytes = 0
  private ended = false

  constructor(
    private sftp: SFTPWrapper,
    private share: MigrationShare,
    private sock: Socket,
  ) {
    this.allowed = new Set(share.files)
    // ssh2 has no event when its buffers shrink: a packet from the peer (a window adjust, a request)
    // or the socket's drain is when they may have. ssh2's own 'data' listener ran first.
    const pump = () => this.pump()
    sock.on('data', pump)
    sock.on('drain', pump)
    // Every request first checks that the peer reads its answers (overrun ends its session).
    const on = (ev: string, fn: (reqid: number, ...a: any[]) => void) =>
      (sftp as unknown as EventEmitter).on(ev, (reqid: number, ...a: any[]) => this.overrun() || fn(reqid, ...a))
    on('OPEN', (reqid, filename, flags) => this.open(reqid, clean(filename), flags))
    on('READ', (reqid, handle, offset, length) => this.enqueue({ reqid, handle, offset, length }))
    on('FSTAT', (reqid, handle) => this.fstat(reqid, handle))
    on('STAT', (reqid, path) => this.stat(reqid, clean(path)))
    on('LSTAT', (reqid, path) => this.stat(reqid, clean(path)))
    on('CLOSE', (reqid, handle) => this.close(reqid, handle))
    on('OPENDIR', (reqid, path) => this.opendir(reqid, clean(path)))
    on('READDIR', (reqid, handle) => this.readdir(reqid, handle))
    on('REALPATH', (reqid, path) => {
      const name = clean(path)
      sftp.name(reqid, [{ filename: isRoot(name) ? '/' : `/${name}`, longname: '', attrs: {} as Attributes }])
    })
    for (const ev of REFUSED) on(ev, (reqid) => this.deny(reqid))
    sftp.on('close', () => {
      this.ended = true
      this.waiting = []
      sock.off('data', pump)
      sock.off('drain', pump)
      for (const o of this.handles.values()) if (o.kind === 'file') o.fh.close().catch(() => {})
      this.handles.clear()
    })
  }

  /** Reply bytes ssh2 holds for this session and has not given the kernel yet. */
  private unsent(): number {
    let n = this.sock.writableLength
    for (const b of (this.sftp as unknown as SftpInternals)._buffer ?? []) n += b.length
    return n
  }

  /** A peer that does not read its answers: its session ends (the migration fails and is reverted). */
  private overrun(): boolean {
    if (this.ended) return true
    if (this.waiting.length <= MAX_WAITING_READS && this.unsent() <= MAX_UNSENT_HARD) return false
    this.ended = true
    this.waiting = []
    this.sftp.destroy()
    return true
  }

  private enqueue(r: WaitingRead): void {
    this.waiting.push(r)
    this.pump()
  }

  /** Start waiting READs while few disk reads run and the replies so far have mostly left. */
  private pump(): void {
    while (
      !this.ended &&
      this.waiting.length > 0 &&
      this.reading < READS_AT_ONCE &&
      this.unsent() + this.readingBytes < MAX_UNSENT
    ) {
      const r = this.waiting.shift()!
      this.read(r.reqid, r.handle, r.offset, r.length)
    }
  }

  private deny(reqid: number): void {
    this.sftp.status(reqid, STATUS_CODE.PERMISSION_DENIED, 'read-only migration share')
  }

  private lookup(h: Buffer): Open | undefined {
    return h.length === 4 ? this.handles.get(h.readUInt32BE(0)) : undefined
  }

  private newHandle(reqid: number, o: Open): void {
    const h = this.nextHandle++
    this.handles.set(h, o)
    const b = Buffer.alloc(4)
    b.writeUInt32BE(h)
    this.sftp.handle(reqid, b)
  }

  private manifestBytes(): Promise<Buffer> {
    const { dir, files, version } = this.share
    return (this.manifest ??= manifestFor(dir, files, version ?? null).then(serializeManifest))
  }

  private async statOf(name: string): Promise<Attributes | null> {
    if (isRoot(name)) return fileAttrs(0, true)
    if (name === MANIFEST_FILE) return fileAttrs((await this.manifestBytes()).length)
    if (!this.allowed.has(name)) return null
    const fh = await open(join(this.share.dir, name), 'r')
    try {
      return fileAttrs((await fh.stat()).size)
    } finally {
      await fh.close()
    }
  }

  private open(reqid: number, name: string, flags: number): void {
    const sftp = this.sftp
    if (flags & (OPEN_MODE.WRITE | OPEN_MODE.APPEND | OPEN_MODE.CREAT | OPEN_MODE.TRUNC)) return this.deny(reqid)
    if (name === MANIFEST_FILE) {
      this.manifestBytes().then(
        (data) => this.newHandle(reqid, { kind: 'mem', data }),
        () => sftp.status(reqid, STATUS_CODE.FAILURE, 'manifest unavailable'),
      )
      return
    }
    if (!this.allowed.has(name)) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)
    open(join(this.share.dir, name), 'r').then(
      async (fh) => this.newHandle(reqid, { kind: 'file', fh, size: (await fh.stat()).size }),
      () => sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE),
    )
  }

  private read(reqid: number, handle: Buffer, offset: number, length: number): void {
    const sftp = this.sftp
    const o = this.lookup(handle)
    if (!o || o.kind === 'dir') return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle')
    const len = Math.min(length, MAX_READ)
    if (o.kind === 'mem') {
      if (offset >= o.data.length) return sftp.status(reqid, STATUS_CODE.EOF)
      return sftp.data(reqid, o.data.subarray(offset, offset + len))
    }
    if (offset >= o.size) return sftp.status(reqid, STATUS_CODE.EOF)
    const buf = Buffer.allocUnsafe(Math.min(len, o.size - offset))
    this.reading++
    this.readingBytes += buf.length
    o.fh
      .read(buf, 0, buf.length, offset)
      .then(
        ({ bytesRead }) => {
          if (this.ended) return
          if (bytesRead === 0) sftp.status(reqid, STATUS_CODE.EOF)
          else sftp.data(reqid, buf.subarray(0, bytesRead))
        },
        () => this.ended || sftp.status(reqid, STATUS_CODE.FAILURE, 'read failed'),
      )
      .finally(() => {
        this.reading--
        this.readingBytes -= buf.length
        this.pump()
      })
  }

  private fstat(reqid: number, handle: Buffer): void {
    const o = this.lookup(handle)
    if (!o) return this.sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle')
    this.sftp.attrs(
      reqid,
      o.kind === 'file' ? fileAttrs(o.size) : o.kind === 'mem' ? fileAttrs(o.data.length) : fileAttrs(0, true),
    )
  }

  private stat(reqid: number, name: string): void {
    this.statOf(name).then(
      (a) => (a ? this.sftp.attrs(reqid, a) : this.sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)),
      () => this.sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE),
    )
  }

  private close(reqid: number, handle: Buffer): void {
    const o = this.lookup(handle)
    if (!o) return this.sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle')
    this.handles.delete(handle.readUInt32BE(0))
    if (o.kind === 'file') o.fh.close().catch(() => {})
    this.sftp.status(reqid, STATUS_CODE.OK)
  }

  private opendir(reqid: number, name: string): void {
    if (!isRoot(name)) return this.sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)
    this.newHandle(reqid, { kind: 'dir', listed: false })
  }

  private readdir(reqid: number, handle: Buffer): void {
    const o = this.lookup(handle)
    if (!o || o.kind !== 'dir') return this.sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle')
    if (o.listed) return this.sftp.status(reqid, STATUS_CODE.EOF)
    o.listed = true
    Promise.all(
      [MANIFEST_FILE, ...this.share.files].map(async (n) => ({
        filename: n,
        longname: n,
        attrs: (await this.statOf(n).catch(() => null)) ?? fileAttrs(0),
      })),
    ).then(
      (list) => this.sftp.name(reqid, list),
      () => this.sftp.status(reqid, STATUS_CODE.FAILURE),
    )
  }
}
