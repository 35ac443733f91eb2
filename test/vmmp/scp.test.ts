// SCP over real OpenSSH on 127.0.0.1: the origin's one-time sshd (scp-share.ts) and the destination's
// ssh (scp.ts). A full verified copy, sparse files move only their data, a corrupt block fails the
// copy and leaves the previous one intact. The destination pins the origin's host key; a one-time key
// opens one login of one migration, within its lifetime, and reads nothing but the machine's files
// (issue 11, item 2). No sshd, ssh or cat of ours outlives a pull, failed, cancelled or not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { execFile, execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { CredentialStore, DEFAULT_CREDENTIAL_TTL_MS } from '../../src/vmmp/credentials.ts'
import { keyFingerprint, scpPull } from '../../src/vmmp/methods/scp.ts'
import { SCP_MAGIC } from '../../src/vmmp/methods/scp-stream.ts'
import { isIncomplete } from '../../src/vmmp/paths.ts'
import { newEd25519Key } from '../../src/ssh-key.ts'
import { loggedOpen, makeImage, type SyncEvent } from './helpers.ts'

const SIZE = 32 * 1024 * 1024
let root: string
let origin: string
let hostKeyFile: string
let scratch: string
const savedTmp = process.env.TMPDIR
const host = newEd25519Key()
// Moved by the expiry test instead of waiting.
let now = Date.now()
const stores: CredentialStore[] = []
const storeOf = (corrupt = false) => {
  const s = new CredentialStore({ clock: () => now, corrupt, ssh: () => ({ host: '127.0.0.1', hostKeyFile }) })
  stores.push(s)
  return s
}
const store = storeOf()

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'vmmp-scp-'))
  // Both sides make their one-time directories in os.tmpdir(): here, so `ours` sees only this file's.
  scratch = join(root, 'tmp')
  await mkdir(scratch)
  process.env.TMPDIR = scratch
  origin = join(root, 'origin')
  await mkdir(origin)
  await makeImage(join(origin, 'disk-flat.vmdk'), SIZE, 0.3, 3)
  await makeImage(join(origin, 'sparse-flat.vmdk'), SIZE, 0.1, 4)
  await writeFile(join(origin, 'disk.vmdk'), '# Disk DescriptorFile\n')
  await writeFile(join(origin, 'secret.txt'), 'not part of the machine\n')
  hostKeyFile = join(root, 'host_key')
  await writeFile(hostKeyFile, host.private, { mode: 0o600 })
})

afterAll(async () => {
  if (savedTmp === undefined) delete process.env.TMPDIR
  else process.env.TMPDIR = savedTmp
  for (const s of stores) await s.closeAll()
  await rm(root, { recursive: true, force: true })
})

const sha = async (p: string) =>
  createHash('sha256')
    .update(await readFile(p))
    .digest('hex')

/** This file's OpenSSH processes still running (sshd -i, its `cat`, the destination's ssh): their
 *  command lines name their one-time directories, made in `scratch`. */
const ours = () => {
  try {
    return execFileSync('pgrep', ['-af', `${scratch}/virtuoso-scp-`])
      .toString()
      .trim()
  } catch {
    return '' // pgrep exits 1 when nothing matches
  }
}

async function grant(files: string[], s = store) {
  const migrationId = `scp-${randomBytes(4).toString('hex')}`
  const login = (await s.grant({ migrationId, dir: origin, files, version: 4 }))!
  const ssh = {
    host: '127.0.0.1',
    port: login.port,
    hostKey: host.public,
    fingerprint: keyFingerprint(host.public),
    user: login.user,
    key: login.key,
  }
  return { migrationId, ssh, store: s }
}

type Grant = Awaited<ReturnType<typeof grant>>
const pull = (g: Grant, dest: string, over: Partial<Grant['ssh']> = {}, signal?: AbortSignal) =>
  scpPull({ migrationId: g.migrationId, src: { ssh: { ...g.ssh, ...over } }, destDir: join(root, dest), signal })

describe('SCP over OpenSSH', () => {
  it('copies the machine in full, verified, and swaps it in atomically', async () => {
    const g = await grant(['disk.vmdk', 'disk-flat.vmdk'])
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
    expect(progress.length).toBeGreaterThan(5)
    const names = await readdir(dest)
    expect(names.filter((n) => n.startsWith('.vmmp'))).toEqual([])
    expect(names).toContain('.manifest-4.bin')
    expect(await isIncomplete(dest)).toBe(false)
    await g.store.revoke(g.migrationId)
    expect(ours()).toBe('')
  })

  it('moves a 10%-allocated disk with at most 12% of its size on the wire', async () => {
    const g = await grant(['sparse-flat.vmdk'])
    const dest = join(root, 'dest-sparse')
    const r = await pull(g, 'dest-sparse')
    expect(r.bytesOnWire).toBeLessThanOrEqual(0.12 * SIZE)
    expect(r.bytesWritten).toBeLessThanOrEqual(0.11 * SIZE)
    expect(await sha(join(dest, 'sparse-flat.vmdk'))).toBe(await sha(join(origin, 'sparse-flat.vmdk')))
  })

  it('fails on a corrupt block, keeps the previous copy, and leaves no process behind', async () => {
    const bad = storeOf(true)
    const g = await grant(['disk.vmdk', 'disk-flat.vmdk'], bad)
    const before = await sha(join(root, 'dest', 'disk-flat.vmdk'))
    await expect(pull(g, 'dest')).rejects.toMatchObject({ code: 'VMMP_CORRUPT' })
    expect(await sha(join(root, 'dest', 'disk-flat.vmdk'))).toBe(before)
    expect((await readdir(join(root, 'dest'))).filter((n) => n.startsWith('.vmmp'))).toEqual([])
    await bad.revoke(g.migrationId) // what the hub's revert does on the origin
    expect(ours()).toBe('')
  })

  it('syncs every byte it wrote before it returns, with syncs in the background during the copy', async () => {
    const g = await grant(['disk-flat.vmdk'])
    const log: SyncEvent[] = []
    const r = await scpPull({
      migrationId: g.migrationId,
      src: { ssh: g.ssh },
      destDir: join(root, 'dest-durable'),
      flushEvery: 1024 * 1024,
      openFile: loggedOpen(log),
    })
    const returned = log.length
    expect(r.bytesWritten).toBeGreaterThan(4 * 1024 * 1024)
    expect(log.filter((e) => e.op === 'datasync').length).toBeGreaterThan(1)
    const lastWrite = log.map((e) => e.op === 'write').lastIndexOf(true)
    // A sync that started after the last write ended, and ended before the pull returned.
    expect(log.findIndex((e, i) => e.op !== 'write' && e.started! > lastWrite && i < returned)).toBeGreaterThan(-1)
    await g.store.revoke(g.migrationId)
  })

  it('fails when a background sync fails, and keeps the previous copy', async () => {
    const g = await grant(['disk.vmdk', 'disk-flat.vmdk'])
    const before = await sha(join(root, 'dest', 'disk-flat.vmdk'))
    const err = await scpPull({
      migrationId: g.migrationId,
      src: { ssh: g.ssh },
      destDir: join(root, 'dest'),
      flushEvery: 1024 * 1024,
      openFile: loggedOpen([], true),
    }).catch((e) => e)
    expect(err.code).toBe('VMMP_IO')
    expect(await sha(join(root, 'dest', 'disk-flat.vmdk'))).toBe(before)
    expect((await readdir(join(root, 'dest'))).filter((n) => n.startsWith('.vmmp'))).toEqual([])
    await g.store.revoke(g.migrationId)
    expect(ours()).toBe('')
  })

  it('stops on cancel and leaves no process behind', async () => {
    const g = await grant(['disk-flat.vmdk'])
    const ac = new AbortController()
    const p = scpPull({
      migrationId: g.migrationId,
      src: { ssh: g.ssh },
      destDir: join(root, 'dest-cancel'),
      signal: ac.signal,
      onProgress: () => ac.abort(),
    })
    await expect(p).rejects.toMatchObject({ code: 'VMMP_ABORTED' })
    await g.store.revoke(g.migrationId)
    expect(ours()).toBe('')
    expect(await readdir(join(root, 'dest-cancel')).catch(() => [])).toEqual([])
  })
})

describe('SCP trusts only the origin the hub named, once', () => {
  it('refuses a server with another host key before offering the key', async () => {
    const g = await grant(['disk.vmdk'])
    const other = newEd25519Key().public
    const over = { hostKey: other, fingerprint: keyFingerprint(other) }
    await expect(pull(g, 'dest-impostor', over)).rejects.toMatchObject({ code: 'VMMP_HOST_KEY' })
    // The key was never offered, so the login is not spent: the real origin still takes it.
    expect((await pull(g, 'dest-impostor')).files).toEqual(['disk.vmdk'])
  })

  it('refuses to dial at all without a pinned host key', async () => {
    const g = await grant(['disk.vmdk'])
    await expect(pull(g, 'dest-nokey', { hostKey: '' })).rejects.toMatchObject({ code: 'VMMP_HOST_KEY' })
  })

  it('refuses the one-time key the second time it is used', async () => {
    const g = await grant(['disk.vmdk'])
    expect((await pull(g, 'dest-once')).verified).toBe(true)
    await expect(pull(g, 'dest-twice')).rejects.toMatchObject({ code: 'VMMP_CLOSED' })
    expect(await readdir(join(root, 'dest-twice')).catch(() => [])).toEqual([])
  })

  it('refuses a login after it expired', async () => {
    const g = await grant(['disk.vmdk'])
    now += DEFAULT_CREDENTIAL_TTL_MS
    try {
      await expect(pull(g, 'dest-expired')).rejects.toMatchObject({ code: 'VMMP_CLOSED' })
    } finally {
      now -= DEFAULT_CREDENTIAL_TTL_MS
    }
    expect(DEFAULT_CREDENTIAL_TTL_MS).toBeLessThanOrEqual(10 * 60_000)
    await g.store.revoke(g.migrationId)
    expect(ours()).toBe('')
  })

  it("refuses migration A's key for migration B, and spends neither", async () => {
    const a = await grant(['disk.vmdk'])
    const b = await grant(['disk.vmdk'])
    await expect(pull(b, 'dest-b', { key: a.ssh.key })).rejects.toMatchObject({ code: 'VMMP_UNAUTHORIZED' })
    expect((await pull(b, 'dest-b')).verified).toBe(true)
    expect((await pull(a, 'dest-a')).verified).toBe(true)
  })

  it('gives a login nothing but the stream of the listed files: no command, subsystem or forwarding', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vmmp-scp-client-'))
    // A plain OpenSSH client with the one-time key, asking for what it likes.
    const ssh = async (g: Grant, ...wish: string[]) => {
      await writeFile(join(dir, 'key'), g.ssh.key, { mode: 0o600 })
      await writeFile(join(dir, 'kh'), `[127.0.0.1]:${g.ssh.port} ${host.public}\n`)
      const args = [
        ...['-F', 'none', '-i', join(dir, 'key'), '-p', String(g.ssh.port), '-o', 'BatchMode=yes'],
        ...['-o', `UserKnownHostsFile=${join(dir, 'kh')}`, '-o', 'StrictHostKeyChecking=yes', '-l', g.ssh.user],
        ...wish,
      ]
      return promisify(execFile)('ssh', args, { encoding: 'buffer', maxBuffer: 1 << 26 }).catch(
        (err: { stdout: Buffer; stderr: Buffer }) => ({ stdout: err.stdout, stderr: err.stderr }),
      )
    }
    try {
      const run = await ssh(await grant(['disk.vmdk']), '127.0.0.1', 'cat', join(origin, 'secret.txt'), '/etc/passwd')
      expect(run.stdout.subarray(0, SCP_MAGIC.length).equals(SCP_MAGIC)).toBe(true)
      expect(run.stdout.includes('not part of the machine')).toBe(false)
      expect(run.stdout.includes('root:')).toBe(false)
      expect(run.stdout.includes('# Disk DescriptorFile')).toBe(true)
      // No SFTP server at all (its Subsystem is not configured).
      const sftp = await ssh(await grant(['disk.vmdk']), '-s', '127.0.0.1', 'sftp')
      expect(sftp.stdout.length).toBe(0)
      expect(sftp.stderr.toString()).toMatch(/subsystem request failed/)
      // A forwarded connection to this host's own sshd: refused, not a byte of it comes back.
      const { stdout, stderr } = await ssh(await grant(['disk.vmdk']), '-W', '127.0.0.1:22', '127.0.0.1')
      expect(stdout.includes('SSH-2.0')).toBe(false)
      expect(stderr.toString()).toMatch(/prohibited|refused|failed/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
