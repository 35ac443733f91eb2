// The provider's SSH server against guessers (issue 11, item 6): spraying 10,001 user names keeps
// the counter of the user actually attacked and raises the sprayer's own; a connection that does not
// log in in time is dropped; connections are capped, per address and in all. Real ssh2 server and
// client on 127.0.0.1; waits for events, never for time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, type Socket } from 'node:net'
import { join } from 'node:path'
import ssh2 from 'ssh2'
import { ConsoleScreens } from '../../src/console/screens.ts'
import { ConsolePasswords } from '../../src/console/passwords.ts'
import { SshConsoleServer, type SshConsoleOptions } from '../../src/console/ssh.ts'
import { FailureCounts } from '../../src/console/ssh-guard.ts'
import { testHv } from './helpers.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

let env: Awaited<ReturnType<typeof testHv>>
let screens: ConsoleScreens
let passwords: ConsolePasswords
const servers: SshConsoleServer[] = []

beforeAll(async () => {
  env = await testHv(['vm1'])
  screens = new ConsoleScreens(env.hv)
  passwords = new ConsolePasswords(join(env.dir, 'console'), { scryptN: TEST_SCRYPT_N })
  await passwords.set('vm1', 'correct horse')
})
afterAll(async () => {
  for (const s of servers) await s.close()
  screens.close()
  await env.cleanup()
})

async function serve(o: Partial<SshConsoleOptions> = {}): Promise<SshConsoleServer> {
  const s = new SshConsoleServer({ screens, passwords, dataDir: env.dir, failDelayMs: 0, ...o })
  servers.push(s)
  await s.start()
  return s
}

/** One password login with the ssh2 client: true when accepted. */
function login(port: number, username: string, password: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = new ssh2.Client()
    c.once('ready', () => {
      c.end()
      resolve(true)
    })
    c.once('error', () => resolve(false))
    c.connect({ host: '127.0.0.1', port, username, password, tryKeyboard: false })
  })
}

function rawSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => resolve(s))
    s.once('error', reject)
    s.resume() // read what the server says, so its hang-up reaches 'close'
  })
}
const closed = (s: Socket) =>
  new Promise<void>((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())))

describe('SSH console limits', () => {
  it("a spray of 10,001 user names keeps the attacked user's counter and raises the sprayer's", async () => {
    const server = await serve()
    expect(await login(server.port, 'vm1', 'guess one')).toBe(false)
    expect(await login(server.port, 'vm1', 'guess two')).toBe(false)
    expect(server.userFailures.count('vm1', Date.now())).toBe(2)
    // The same path the SSH authentication handler takes, called directly: 10,001 handshakes would
    // only make the test slow.
    for (let i = 0; i <= 10_000; i++) await server.checkPassword(`spray-${i}`, 'x', '192.0.2.9')
    expect(server.userFailures.count('vm1', Date.now())).toBe(2)
    expect(server.userFailures.size).toBeLessThanOrEqual(10_000)
    expect(server.addressFailures.count('192.0.2.9', Date.now())).toBe(10_001)
    expect(await login(server.port, 'vm1', 'correct horse')).toBe(true)
    expect(server.userFailures.count('vm1', Date.now())).toBe(0)
  })

  it('a full table drops a single failure before a repeated one, and only one entry', () => {
    const t = new FailureCounts(60_000, 3)
    t.fail('target', 1)
    t.fail('target', 2)
    t.fail('a', 3)
    t.fail('b', 4)
    t.fail('c', 5)
    expect([t.count('target', 6), t.count('a', 6), t.count('b', 6), t.count('c', 6)]).toEqual([2, 0, 1, 1])
  })

  it('drops a connection that does not log in before the authentication timeout', async () => {
    const server = await serve({ authTimeoutMs: 200 })
    const s = await rawSocket(server.port)
    s.on('error', () => {})
    s.write('SSH-2.0-silent_client\r\n')
    await closed(s)
  })

  it('caps connections from one address and in all', async () => {
    const perAddr = await serve({ maxConnectionsPerAddress: 2 })
    const a = [await rawSocket(perAddr.port), await rawSocket(perAddr.port), await rawSocket(perAddr.port)]
    for (const s of a) s.on('error', () => {})
    await closed(a[2])
    expect(a[0].destroyed || a[1].destroyed).toBe(false)
    expect(perAddr.connections).toBe(2)
    for (const s of a) s.destroy()

    const total = await serve({ maxConnections: 2, maxConnectionsPerAddress: 10 })
    const b = [await rawSocket(total.port), await rawSocket(total.port), await rawSocket(total.port)]
    for (const s of b) s.on('error', () => {})
    await closed(b[2])
    expect(b[0].destroyed || b[1].destroyed).toBe(false)
    for (const s of b) s.destroy()
  })
})
