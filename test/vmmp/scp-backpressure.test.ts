// The SCP origin (scp-share.ts) heeds backpressure (issue 11, item 5): a destination that logs in with
// its one-time key and then stops reading must not make the origin read the machine's disk into memory.
// The origin reads a run only into one of its few fixed buffers, and a buffer comes back only once the
// FIFO took its bytes; a reader that stops fills the pipes and the TCP window, and reading stops. When
// the reader resumes, the whole stream arrives. The client is plain OpenSSH; the origin runs in this
// process, so this process's read counter (/proc/self/io rchar) is what the origin read from disk.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CredentialStore } from '../../src/vmmp/credentials.ts'
import { manifestFor, serializeManifest } from '../../src/vmmp/manifest.ts'
import { SCP_MAGIC } from '../../src/vmmp/methods/scp-stream.ts'
import { newEd25519Key } from '../../src/ssh-key.ts'

const MiB = 1024 * 1024
const SIZE = 128 * MiB
const FILE = 'disk-flat.vmdk'
let root: string
const host = newEd25519Key()
const savedTmp = process.env.TMPDIR
let store: CredentialStore

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'vmmp-scp-bp-'))
  await mkdir(join(root, 'tmp'))
  process.env.TMPDIR = join(root, 'tmp')
  await mkdir(join(root, 'origin'))
  // Every block holds data: all of the file is in the stream.
  const fh = await open(join(root, 'origin', FILE), 'w')
  for (let pos = 0; pos < SIZE; pos += 4 * MiB) await fh.write(randomBytes(4 * MiB), 0, 4 * MiB, pos)
  await fh.close()
  await writeFile(join(root, 'host_key'), host.private, { mode: 0o600 })
  const hostKeyFile = join(root, 'host_key')
  store = new CredentialStore({ ssh: () => ({ host: '127.0.0.1', hostKeyFile }) })
})

afterAll(async () => {
  await store?.closeAll()
  if (savedTmp === undefined) delete process.env.TMPDIR
  else process.env.TMPDIR = savedTmp
  await rm(root, { recursive: true, force: true })
})

/** Bytes this process has read through read(2) and friends so far. */
const rchar = async () => Number(/rchar: (\d+)/.exec(await readFile('/proc/self/io', 'utf8'))![1])

/** Resolves once `value()` has grown by less than 64 KiB (reading /proc/self/io counts too) over
 *  `quiet` consecutive looks, `everyMs` apart: the stream has stalled against the reader that stopped. */
async function settled(value: () => Promise<number>, quiet = 5, everyMs = 200): Promise<number> {
  let last = await value()
  for (let same = 0; same < quiet;) {
    await new Promise((resolve) => setTimeout(resolve, everyMs))
    const now = await value()
    same = now - last < 64 * 1024 ? same + 1 : 0
    last = now
  }
  return last
}

it('reads a bounded amount for a destination that stops reading, and all of it once it reads again', async () => {
  const dir = join(root, 'origin')
  // The manifest as the background hash leaves it, so that the origin's reads below are the stream's.
  const manifest = serializeManifest(await manifestFor(dir, [FILE], 4))
  const login = (await store.grant({ migrationId: 'scp-bp', dir, files: [FILE], version: 4 }))!
  const client = join(root, 'client')
  await mkdir(client, { mode: 0o700 })
  await writeFile(join(client, 'key'), login.key, { mode: 0o600 })
  await writeFile(join(client, 'kh'), `[127.0.0.1]:${login.port} ${host.public}\n`)
  const ssh = spawn(
    'ssh',
    [
      ...['-F', 'none', '-i', join(client, 'key'), '-p', String(login.port), '-o', 'BatchMode=yes'],
      ...['-o', `UserKnownHostsFile=${join(client, 'kh')}`, '-o', 'StrictHostKeyChecking=yes'],
      ...['-l', login.user, '127.0.0.1'],
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  try {
    // Take the first bytes (the stream has started), then stop reading.
    const chunks: Buffer[] = []
    const first = await new Promise<Buffer>((resolve, reject) => {
      ssh.stdout.once('data', resolve)
      ssh.once('exit', (code) => reject(new Error(`ssh exited ${code} before any byte`)))
    })
    ssh.stdout.pause()
    chunks.push(first)
    expect(first.subarray(0, SCP_MAGIC.length).equals(SCP_MAGIC)).toBe(true)
    const before = await rchar()
    const stalled = await settled(rchar)
    const readWhileStopped = stalled - before
    console.log(`origin read ${(readWhileStopped / MiB).toFixed(1)} MiB of ${SIZE / MiB} MiB while the reader stopped`)
    // Its 4 one-MiB buffers, plus what fills the FIFO, ssh's channel window and loopback's TCP buffers.
    expect(readWhileStopped).toBeLessThan(32 * MiB)

    // Reading again, the whole stream arrives: MAGIC, length, manifest, then every block.
    const ended = new Promise<void>((resolve) => ssh.stdout.once('end', () => resolve()))
    ssh.stdout.on('data', (d: Buffer) => chunks.push(d))
    ssh.stdout.resume()
    await ended
    const got = Buffer.concat(chunks)
    expect(got.length).toBe(SCP_MAGIC.length + 4 + manifest.length + SIZE)
    const data = got.subarray(SCP_MAGIC.length + 4 + manifest.length)
    const disk = await readFile(join(dir, FILE))
    expect(data.equals(disk)).toBe(true)
  } finally {
    ssh.kill('SIGKILL')
  }
}, 120_000)
