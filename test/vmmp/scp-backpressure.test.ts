// The SCP origin heeds backpressure (issue 11, item 5): a destination that logs in with the migration's
// credential, sends READs and stops reading the answers makes the origin read and buffer a bounded
// amount, not every block it asked for; when it reads again every answer arrives, intact. A peer that
// piles up more READs than any client of ours is hung up. The real ssh2 server (scp-host.ts) and a real
// ssh2 client whose socket the test pauses. The origin runs in this process: what it reads from disk
// is this process's `rchar` (/proc/self/io; the paused client reads nothing).
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client, type SFTPWrapper } from 'ssh2'
import { CredentialStore } from '../../src/vmmp/credentials.ts'
import { startMigrationSshServer, type MigrationSshServer } from '../../src/vmmp/methods/scp-host.ts'
import { MAX_READ, MAX_WAITING_READS } from '../../src/vmmp/methods/scp-server.ts'

const SIZE = 16 * 1024 * 1024
const disk = randomBytes(SIZE)
let dir: string
let server: MigrationSshServer
const store = new CredentialStore()

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vmmp-scp-bp-'))
  await writeFile(join(dir, 'disk.raw'), disk)
  server = await startMigrationSshServer({ store })
})
afterAll(async () => {
  await server.close()
  await rm(dir, { recursive: true, force: true })
})

const rchar = async () => Number(/rchar: (\d+)/.exec(await readFile('/proc/self/io', 'utf8'))![1])
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

/** Log in with a fresh single-use credential on a socket the test controls; open disk.raw. */
async function login(): Promise<{ client: Client; sock: Socket; sftp: SFTPWrapper; handle: Buffer }> {
  const migrationId = `bp-${randomBytes(4).toString('hex')}`
  const secret = randomBytes(24).toString('base64url')
  store.grant({ migrationId, secret, dir, files: ['disk.raw'], version: 1 })
  const sock = connect(server.port, '127.0.0.1')
  const client = new Client()
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve).once('error', reject)
    client.connect({ sock, username: migrationId, password: secret, hostVerifier: () => true })
  })
  const sftp = await new Promise<SFTPWrapper>((res, rej) => client.sftp((e, s) => (e ? rej(e) : res(s))))
  Object.assign(sftp as unknown as object, { _maxReadLen: MAX_READ, _maxInPktLen: MAX_READ + 1024 })
  const handle = await new Promise<Buffer>((res, rej) => sftp.open('disk.raw', 'r', (e, h) => (e ? rej(e) : res(h))))
  return { client, sock, sftp, handle }
}

/** Send `n` READs of MAX_READ bytes cycling over the disk; each answer is checked as it arrives. */
function readMany(sftp: SFTPWrapper, handle: Buffer, n: number): Promise<Array<boolean | Error>> {
  const buf = Buffer.alloc(MAX_READ) // one buffer: ssh2 copies an answer in and calls back at once
  const slots = SIZE / MAX_READ
  return Promise.all(
    Array.from({ length: n }, (_, i) => {
      const pos = (i % slots) * MAX_READ
      return new Promise<boolean | Error>((resolve) =>
        sftp.read(handle, buf, 0, MAX_READ, pos, (err, got) =>
          resolve(err ?? (got === MAX_READ && sha(buf) === sha(disk.subarray(pos, pos + MAX_READ)))),
        ),
      )
    }),
  )
}

/** Until the origin's reads stop moving for a while (bounded): it has done all it will do. Less than one
 *  READ's worth between looks is still (reading /proc/self/io and the worker's messages count too). */
async function settle(): Promise<void> {
  let last = -MAX_READ
  for (let still = 0, t = 0; still < 30; t++) {
    if (t > 3000) throw new Error('the origin never stopped reading')
    const now = await rchar()
    still = now - last < MAX_READ / 4 ? still + 1 : 0
    last = now
    await new Promise((r) => setTimeout(r, 10))
  }
}

it('a destination that stops reading bounds what the origin reads and buffers; every answer arrives later', async () => {
  const { client, sock, sftp, handle } = await login()
  sock.pause() // the destination stops reading
  const asks = 800
  const asked = asks * MAX_READ // 200 MiB
  const before = { read: await rchar(), buffers: process.memoryUsage().arrayBuffers }
  const answers = readMany(sftp, handle, asks)
  await settle()
  const read = (await rchar()) - before.read
  const buffered = process.memoryUsage().arrayBuffers - before.buffers
  console.log(
    `asked ${asked >> 20} MiB; origin read ${(read / 1048576).toFixed(1)} MiB, ` +
      `array buffers grew ${(buffered / 1048576).toFixed(1)} MiB`,
  )
  expect(read).toBeLessThan(asked / 10)
  expect(buffered).toBeLessThan(32 * 1024 * 1024)

  sock.resume()
  const got = await answers
  expect(got.filter((ok) => ok !== true)).toEqual([])
  client.end()
})

it('a peer that piles up more READs than any client of ours has its session ended', async () => {
  const { client, sock, sftp, handle } = await login()
  const closed = new Promise<void>((resolve) => sftp.once('close', () => resolve()))
  sock.pause()
  const answers = readMany(sftp, handle, MAX_WAITING_READS + 200)
  await settle()
  sock.resume()
  await closed
  const got = await answers
  expect(got.filter((ok) => ok !== true).length).toBeGreaterThan(0)
  client.end()
})
