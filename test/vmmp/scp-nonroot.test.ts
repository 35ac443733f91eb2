// SCP when the origin provider is not root, as a systemd unit with `User=virtuoso` runs it (README): its
// one-time sshd runs as that user (no privilege separation) and logs the destination in as that user,
// and the copy arrives whole and verified. sshd runs even the forced command through the user's shell,
// so a user whose shell is nologin (most system users) gets one clear error instead of a broken stream.
// The origin runs in a child process as a system user this file makes (and removes), or as `nobody`;
// switching users needs root, which CI has.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { execa } from 'execa'
import { spawn, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { chmod, chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { keyFingerprint, scpPull } from '../../src/vmmp/methods/scp.ts'
import { makeImage } from './helpers.ts'

const asRoot = process.getuid?.() === 0
const USER = `vmscp${randomBytes(3).toString('hex')}`
let dir: string
const children: ChildProcess[] = []

const idOf = async (flag: '-u' | '-g', user: string) => Number((await execa('id', [flag, user])).stdout)

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vmmp-scp-nonroot-'))
  if (!asRoot) return
  await execa('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/bin/sh', USER])
  await chmod(dir, 0o755)
  await mkdir(join(dir, 'origin'))
  await makeImage(join(dir, 'origin', 'disk-flat.vmdk'), 8 * 1024 * 1024, 0.4, 9)
  // The machine's directory is the provider's, as under its data directory (the origin caches the
  // block manifest there).
  const [uid, gid] = [await idOf('-u', USER), await idOf('-g', USER)]
  for (const p of ['origin', 'origin/disk-flat.vmdk']) await chown(join(dir, p), uid, gid)
})

afterAll(async () => {
  for (const c of children) {
    c.stdin?.end()
    if (c.exitCode === null) await new Promise((r) => c.once('exit', r))
  }
  if (asRoot) await execa('userdel', [USER], { reject: false })
  await rm(dir, { recursive: true, force: true })
})

/** Starts an origin as `user` and returns the JSON line it prints: the login, or the grant's error. */
async function originAs(user: string): Promise<any> {
  const [uid, gid] = [await idOf('-u', user), await idOf('-g', user)]
  const keys = join(dir, `keys-${user}`)
  await mkdir(keys)
  await chown(keys, uid, gid)
  const entry = ['bin/run-ts.js', 'test/vmmp/scp-origin-child.ts', join(dir, 'origin'), keys, 'disk-flat.vmdk']
  const child = spawn(process.execPath, entry, {
    uid,
    gid,
    env: { ...process.env, HOME: keys },
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  children.push(child)
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve(out.split('\n')[0])
    })
    child.once('exit', (code) => reject(new Error(`the origin exited with ${code}: ${out}`)))
  })
  return JSON.parse(line)
}

const sha = async (p: string) =>
  createHash('sha256')
    .update(await readFile(p))
    .digest('hex')

it.runIf(asRoot)('a provider running as a system user with a shell serves SCP through its own sshd', async () => {
  const { login, hostKey, uid } = await originAs(USER)
  expect(uid).toBe(await idOf('-u', USER))
  expect(login.user).toBe(USER)
  const dest = join(dir, 'dest')
  const r = await scpPull({
    migrationId: 'nonroot',
    src: {
      ssh: {
        host: '127.0.0.1',
        port: login.port,
        user: login.user,
        key: login.key,
        hostKey,
        fingerprint: keyFingerprint(hostKey),
      },
    },
    destDir: dest,
  })
  expect(r.verified).toBe(true)
  expect(await sha(join(dest, 'disk-flat.vmdk'))).toBe(await sha(join(dir, 'origin', 'disk-flat.vmdk')))
})

it.runIf(asRoot)(
  'a provider whose user has no login shell refuses SCP with one line that says what to do',
  async () => {
    const { error } = await originAs('nobody')
    expect(error.code).toBe('VMMP_UNKNOWN_METHOD')
    expect(error.message).toMatch(
      /SCP is not available on this provider: .*nobody.*nologin.*usermod -s \/bin\/sh.*RSYNC/,
    )
  },
)
