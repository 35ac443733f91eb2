// SCP over a real ssh2 server on 127.0.0.1: full verified copy, sparse files move only their data,
// wrong credentials and writes are refused, and a failed copy leaves the previous one intact. The
// destination pins the origin's host key, and a migration credential opens one login of one
// migration, within its lifetime (issue 11, item 2).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client, type SFTPWrapper } from 'ssh2'
import { CredentialStore, DEFAULT_CREDENTIAL_TTL_MS } from '../../src/vmmp/credentials.ts'
import { startMigrationSshServer, type MigrationSshServer } from '../../src/vmmp/methods/scp-host.ts'
import { scpPull } from '../../src/vmmp/methods/scp.ts'
import { isIncomplete } from '../../src/vmmp/paths.ts'
import { makeImage } from './helpers.ts'

const SIZE = 32 * 1024 * 1024
let root: string
let origin: string
let server: MigrationSshServer
// Moved by the expiry test instead of waiting.
let now = Date.now()
const store = new CredentialStore({ clock: () => now })

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'vmmp-scp-'))
  origin = join(root, 'origin')
  await mkdir(origin)
  await makeImage(join(origin, 'disk-flat.vmdk'), SIZE, 0.3, 3)
  await makeImage(join(origin, 'sparse-flat.vmdk'), SIZE, 0.1, 4)
  await writeFile(join(origin, 'disk.vmdk'), '# Disk DescriptorFile\n')
  server = await startMigrationSshServer({ store })
})

afterAll(async () => {
  await server.close()
  await rm(root, { recursive: true, force: true })
})

const sha = async (p: string) =>
  createHash('sha256')
    .update(await readFile(p))
    .digest('hex')

function grant(files: string[]) {
  const migrationId = `scp-${randomBytes(4).toString('hex')}`
  const secret = randomBytes(24).toString('base64url')
  store.grant({ migrationId, secret, dir: origin, files, version: 4 })
  const ssh = { host: '127.0.0.1', port: server.port, fingerprint: server.fingerprint, username: migrationId }
  return { migrationId, ssh: { ...ssh, password: secret } }
}

describe('SCP over ssh2 SFTP', () => {
  it('copies the machine in full, verified, and swaps it in atomically', async () => {
    const g = grant(['disk.vmdk', 'disk-flat.vmdk'])
    const dest = join(root, 'dest')
    const progress: number[] = []
    const r = await scpPull({
      migrationId: g.migrationId,
      src: { ssh: g.ssh },
      destDir: dest,
      onProgress: (d) => progress.push(d),
    })
    expect(r.verified).toBe(true)
    expect(r.files).toEqual(['disk.vmdk', 'disk-flat.vmdk'])
    expect(await sha(join(dest, 'disk-flat.vmdk'))).toBe(await sha(join(origin, 'disk-flat.vmdk')))
    expect(progress.length).toBeGreaterThan(10)
    const names = await readdir(dest)
    expect(names.filter((n) => n.startsWith('.vmmp'))).toEqual([])
    expect(names).toContain('.manifest-4.bin')
    expect(await isIncomplete(dest)).toBe(false)
  })

  it('moves a 10%-allocated disk with at most 12% of its size on the wire', async () => {
    const g = grant(['sparse-flat.vmdk'])
    const dest = join(root, 'dest-sparse')
    const r = await scpPull({ migrationId: g.migrationId, src: { ssh: g.ssh }, destDir: dest })
    expect(r.bytesOnWire).toBeLessThanOrEqual(0.12 * SIZE)
    expect(r.bytesWritten).toBeLessThanOrEqual(0.11 * SIZE)
    expect(await sha(join(dest, 'sparse-flat.vmdk'))).toBe(await sha(join(origin, 'sparse-flat.vmdk')))
  })

  it('refuses a wrong credential and leaves the previous copy untouched', async () => {
    const g = grant(['disk.vmdk', 'disk-flat.vmdk'])
    const dest = join(root, 'dest')
    const before = await sha(join(dest, 'disk-flat.vmdk'))
    await expect(
      scpPull({
        migrationId: g.migrationId,
        src: { ssh: { ...g.ssh, password: 'wrong-password-xxxxxxxx' } },
        destDir: dest,
      }),
    ).rejects.toMatchObject({ code: 'VMMP_UNAUTHORIZED' })
    expect(await sha(join(dest, 'disk-flat.vmdk'))).toBe(before)
    expect((await readdir(dest)).filter((n) => n.startsWith('.vmmp'))).toEqual([])
  })

  it('serves the share read-only and only the granted files', async () => {
    const g = grant(['disk.vmdk'])
    const ssh = new Client()
    await new Promise<void>((resolve, reject) => {
      ssh
        .once('ready', () => resolve())
        .once('error', reject)
        .connect({ host: '127.0.0.1', port: server.port, username: g.ssh.username, password: g.ssh.password })
    })
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
      ssh.sftp((err, s) => (err ? reject(err) : resolve(s))),
    )
    const openErr = (name: string, mode: 'r' | 'w') =>
      new Promise<number | null>((resolve) =>
        sftp.open(name, mode, (err) => resolve(err ? (err as unknown as { code: number }).code : null)),
      )
    expect(await openErr('disk.vmdk', 'r')).toBe(null)
    expect(await openErr('disk.vmdk', 'w')).toBe(3) // PERMISSION_DENIED
    expect(await openErr('disk-flat.vmdk', 'r')).toBe(2) // not granted: NO_SUCH_FILE
    expect(await openErr('../origin/disk.vmdk', 'r')).toBe(2)
    const list = await new Promise<string[]>((resolve, reject) =>
      sftp.readdir('/', (err, l) => (err ? reject(err) : resolve(l.map((e) => e.filename)))),
    )
    expect(list.sort()).toEqual(['.vmmp-manifest', 'disk.vmdk'])
    ssh.end()
  })
})

describe('SCP trusts only the origin the hub named, once', () => {
  const pull = (g: ReturnType<typeof grant>, dest: string, over: Partial<ReturnType<typeof grant>['ssh']> = {}) =>
    scpPull({ migrationId: g.migrationId, src: { ssh: { ...g.ssh, ...over } }, destDir: join(root, dest) })

  it('refuses a server with another host key before sending the credential', async () => {
    const impostor = await startMigrationSshServer({ store })
    try {
      const g = grant(['disk.vmdk'])
      await expect(pull(g, 'dest-impostor', { port: impostor.port })).rejects.toMatchObject({ code: 'VMMP_HOST_KEY' })
      // The impostor never saw the secret: the real origin still takes it.
      const r = await pull(g, 'dest-impostor')
      expect(r.files).toEqual(['disk.vmdk'])
    } finally {
      await impostor.close()
    }
  })

  it('refuses to dial at all without a pinned host key', async () => {
    const g = grant(['disk.vmdk'])
    await expect(pull(g, 'dest-nokey', { fingerprint: '' })).rejects.toMatchObject({ code: 'VMMP_HOST_KEY' })
  })

  it('refuses a credential the second time it is used', async () => {
    const g = grant(['disk.vmdk'])
    expect((await pull(g, 'dest-once')).verified).toBe(true)
    await expect(pull(g, 'dest-twice')).rejects.toMatchObject({ code: 'VMMP_UNAUTHORIZED' })
  })

  it('refuses a credential after it expired', async () => {
    const g = grant(['disk.vmdk'])
    now += DEFAULT_CREDENTIAL_TTL_MS
    try {
      await expect(pull(g, 'dest-expired')).rejects.toMatchObject({ code: 'VMMP_UNAUTHORIZED' })
    } finally {
      now -= DEFAULT_CREDENTIAL_TTL_MS
    }
    expect(DEFAULT_CREDENTIAL_TTL_MS).toBeLessThanOrEqual(10 * 60_000)
  })

  it("refuses migration A's secret for migration B", async () => {
    const a = grant(['disk.vmdk'])
    const b = grant(['disk.vmdk'])
    await expect(pull(b, 'dest-b', { password: a.ssh.password })).rejects.toMatchObject({ code: 'VMMP_UNAUTHORIZED' })
    // Neither grant was spent by the refused try.
    expect((await pull(b, 'dest-b')).verified).toBe(true)
    expect((await pull(a, 'dest-a')).verified).toBe(true)
  })
})
