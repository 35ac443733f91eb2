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

/** Serve one SFTP session: only OPEN(read)/READ/STAT/CLOSE/readdir of the share; every write is refused. */
export function handleMigrationSftp(sftp: SFTPWrapper, share: MigrationShare): void {
  const handles = new Map<number, Open>()
  let nextHandle = 1
  let manifest: Promise<Buffer> | null = null
  const allowed = new Set(share.files)
  const clean = (p: string) => p.replace(/^\/+/, '').replace(/^\.\//, '')
  const handleBuf = (n: number) => {
    const b = Buffer.alloc(4)
    b.writeUInt32BE(n)
    return b
  }
  const lookup = (h: Buffer) => (h.length === 4 ? handles.get(h.readUInt32BE(0)) : undefined)
  const manifestBytes = () =>
    (manifest ??= manifestFor(share.dir, share.files, share.version ?? null).then(serializeManifest))
  const fileAttrs = (size: number, dir = false): Attributes => ({
    mode: dir ? 0o40555 : 0o100444,
    uid: 0,
    gid: 0,
    size,
    atime: 0,
    mtime: 0,
  })
  const deny = (reqid: number) => sftp.status(reqid, STATUS_CODE.PERMISSION_DENIED, 'read-only migration share')

  async function statOf(name: string): Promise<Attributes | null> {
    if (name === '' || name === '.') return fileAttrs(0, true)
    if (name === MANIFEST_FILE) return fileAttrs((await manifestBytes()).length)
    if (!allowed.has(name)) return null
    const fh = await open(join(share.dir, name), 'r')
    try {
      return fileAttrs((await fh.stat()).size)
    } finally {
      await fh.close()
    }
  }

  sftp.on('OPEN', (reqid, filename, flags) => {
    const name = clean(filename)
    if (flags & (OPEN_MODE.WRITE | OPEN_MODE.APPEND | OPEN_MODE.CREAT | OPEN_MODE.TRUNC)) return deny(reqid)
    const h = nextHandle++
    const done = (o: Open) => {
      handles.set(h, o)
      sftp.handle(reqid, handleBuf(h))
    }
    if (name === MANIFEST_FILE) {
      manifestBytes().then(
        (data) => done({ kind: 'mem', data }),
        () => sftp.status(reqid, STATUS_CODE.FAILURE, 'manifest unavailable'),
      )
      return
    }
    if (!allowed.has(name)) return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)
    open(join(share.dir, name), 'r').then(
      async (fh) => done({ kind: 'file', fh, size: (await fh.stat()).size }),
      () => sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE),
    )
  })

  sftp.on('READ', (reqid, handle, offset, length) => {
    const o = lookup(handle)
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
  })

  sftp.on('FSTAT', (reqid, handle) => {
    const o = lookup(handle)
    if (!o) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle')
    sftp.attrs(
      reqid,
      o.kind === 'file' ? fileAttrs(o.size) : o.kind === 'mem' ? fileAttrs(o.data.length) : fileAttrs(0, true),
    )
  })

  const onStat = (reqid: number, path: string) => {
    statOf(clean(path)).then(
      (a) => (a ? sftp.attrs(reqid, a) : sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)),
      () => sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE),
    )
  }
  sftp.on('STAT', onStat)
  sftp.on('LSTAT', onStat)

  sftp.on('CLOSE', (reqid, handle) => {
    const o = lookup(handle)
    if (!o) return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle')
    handles.delete(handle.readUInt32BE(0))
    if (o.kind === 'file') o.fh.close().catch(() => {})
    sftp.status(reqid, STATUS_CODE.OK)
  })

  sftp.on('OPENDIR', (reqid, path) => {
    const name = clean(path)
    if (name !== '' && name !== '.') return sftp.status(reqid, STATUS_CODE.NO_SUCH_FILE)
    const h = nextHandle++
    handles.set(h, { kind: 'dir', listed: false })
    sftp.handle(reqid, handleBuf(h))
  })

  sftp.on('READDIR', (reqid, handle) => {
    const o = lookup(handle)
    if (!o || o.kind !== 'dir') return sftp.status(reqid, STATUS_CODE.FAILURE, 'bad handle')
    if (o.listed) return sftp.status(reqid, STATUS_CODE.EOF)
    o.listed = true
    Promise.all(
      [MANIFEST_FILE, ...share.files].map(async (n) => ({
        filename: n,
        longname: n,
        attrs: (await statOf(n).catch(() => null)) ?? fileAttrs(0),
      })),
    ).then(
      (list) => sftp.name(reqid, list),
      () => sftp.status(reqid, STATUS_CODE.FAILURE),
    )
  })

  sftp.on('REALPATH', (reqid, path) => {
    const name = clean(path)
    sftp.name(reqid, [
      { filename: name === '' || name === '.' ? '/' : `/${name}`, longname: '', attrs: {} as Attributes },
    ])
  })

  for (const ev of [
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
  ] as const) {
    sftp.on(ev as 'WRITE', (reqid: number) => deny(reqid))
  }

  sftp.on('close', () => {
    for (const o of handles.values()) if (o.kind === 'file') o.fh.close().catch(() => {})
    handles.clear()
  })
}
