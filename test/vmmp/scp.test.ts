// SCP over a real ssh2 server on 127.0.0.1: full verified copy, sparse files move only their data,
// wrong credentials and writes are refused, and a failed copy leaves the previous one intact.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client, type SFTPWrapper } from 'ssh2'
import { CredentialStore } from '../../src/vmmp/credentials.ts'
import { startMigrationSshServer, type MigrationSshServer } from '../../src/vmmp/methods/scp-host.ts'
import { scpPull } from '../../src/vmmp/methods/scp.ts'
import { isIncomplete } from '../../src/vmmp/paths.ts'
import { makeImage } from './helpers.ts'

const SIZE = 32 * 1024 * 1024
let root: string
let origin: string
let server: MigrationSshServer
const store = new CredentialStore()

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
  return { migrationId, ssh: { host: '127.0.0.1', port: server.port, username: migrationId, password: secret } }
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
