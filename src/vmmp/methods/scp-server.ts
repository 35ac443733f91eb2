// The origin's side of SCP: an SFTP subsystem restricted, read-only, to one machine's files, for one
// migration's credential (credentials.ts). The provider's ssh2 server mounts it: on authentication it
// asks the origin's CredentialStore; on an 'sftp' session it calls `handleMigrationSftp`.
// Besides the machine's files the root lists one virtual file, `.vmmp-manifest` (the block manifest,
// manifest.ts's binary form), so the destination can skip zero blocks and verify every block.
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import ssh2 from 'ssh2'
import type { Attributes, SFTPWrapper } from 'ssh2'
import { manifestFor, serializeManifest } from '../manifest.ts'
import type { MigrationShare } from '../credentials.ts'

const { STATUS_CODE, OPEN_MODE } = ssh2.utils.sftp
export const MANIFEST_FILE = '.vmmp-manifest'
/** Reads larger than this are clipped: 256 KiB matches OpenSSH's packet limit, and our client's request size. */
export const MAX_READ = 256 * 1024

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
  new ShareSession(sftp, share)
}

/** One SFTP session on a share: its open handles, and an answer to each request it takes. */
class ShareSession {
  private handles = new Map<number, Open>()
  private nextHandle = 1
  private manifest: Promise<Buffer> | null = null
  private allowed: Set<string>

  constructor(
    private sftp: SFTPWrapper,
    private share: MigrationShare,
  ) {
    this.allowed = new Set(share.files)
    sftp.on('OPEN', (reqid, filename, flags) => this.open(reqid, clean(filename), flags))
    sftp.on('READ', (reqid, handle, offset, length) => this.read(reqid, handle, offset, length))
    sftp.on('FSTAT', (reqid, handle) => this.fstat(reqid, handle))
    sftp.on('STAT', (reqid, path) => this.stat(reqid, clean(path)))
    sftp.on('LSTAT', (reqid, path) => this.stat(reqid, clean(path)))
    sftp.on('CLOSE', (reqid, handle) => this.close(reqid, handle))
    sftp.on('OPENDIR', (reqid, path) => this.opendir(reqid, clean(path)))
    sftp.on('READDIR', (reqid, handle) => this.readdir(reqid, handle))
    sftp.on('REALPATH', (reqid, path) => {
      const name = clean(path)
      sftp.name(reqid, [{ filename: isRoot(name) ? '/' : `/${name}`, longname: '', attrs: {} as Attributes }])
    })
    for (const ev of REFUSED) sftp.on(ev as 'WRITE', (reqid: number) => this.deny(reqid))
    sftp.on('close', () => {
      for (const o of this.handles.values()) if (o.kind === 'file') o.fh.close().catch(() => {})
      this.handles.clear()
    })
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
    o.fh.read(buf, 0, buf.length, offset).then(
      ({ bytesRead }) => {
        if (bytesRead === 0) sftp.status(reqid, STATUS_CODE.EOF)
        else sftp.data(reqid, buf.subarray(0, bytesRead))
      },
      () => sftp.status(reqid, STATUS_CODE.FAILURE, 'read failed'),
    )
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
