// The provider's SSH console with the real OpenSSH client: the right password opens the machine's
// console in a PTY, a command runs in the guest shell and its output comes back; wrong passwords
// are refused (and slowed); exec and port forwarding are refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { stat } from 'node:fs/promises'
import { execFileSync } from 'node:child_process'
import { ConsoleScreens } from '../../src/console/screens.ts'
import { ConsolePasswords } from '../../src/console/passwords.ts'
import { SshConsoleServer, loadHostKey, HOST_KEY_FILE } from '../../src/console/ssh.ts'
import { testHv, waitFor } from './helpers.ts'
import { runSsh } from './ssh-client.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

let env: Awaited<ReturnType<typeof testHv>>
let screens: ConsoleScreens
let passwords: ConsolePasswords
let server: SshConsoleServer

beforeAll(async () => {
  env = await testHv(['vm1', 'vm2'])
  await env.hv.start('vm1')
  screens = new ConsoleScreens(env.hv)
  passwords = new ConsolePasswords(join(env.dir, 'console'), { scryptN: TEST_SCRYPT_N })
  await passwords.set('vm1', 'correct horse')
  server = new SshConsoleServer({ screens, passwords, dataDir: env.dir, failDelayMs: 300 })
  await server.start()
})

afterAll(async () => {
  await server.close()
  screens.close()
  await env.cleanup()
})

describe('SSH console', () => {
  it('keeps a host key (mode 0600) whose fingerprint is the one ssh-keygen prints', async () => {
    const file = join(env.dir, HOST_KEY_FILE)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    const again = await loadHostKey(env.dir)
    expect(again.fingerprint).toBe(server.fingerprint)
    const keygen = execFileSync('ssh-keygen', ['-lf', file], { encoding: 'utf8' })
    expect(keygen).toContain(server.fingerprint!)
  })

  it('the right password opens the console; a command runs in the guest and its output comes back', async () => {
    const ssh = await runSsh({ port: server.port, user: 'vm1', password: 'correct horse' })
    try {
      await waitFor(() => ssh.out().includes('/ # '), 15_000, 'the guest prompt over ssh')
      ssh.proc.stdin.write('echo "ssh""-works"\r')
      await waitFor(() => ssh.out().includes('ssh-works\r\n'), 10_000, 'the command output')
      // The guest's screen followed the PTY size ssh asked for (default 80x24 without a terminal).
      const screen = await screens.get('vm1')
      expect([screen.cols, screen.rows]).toEqual([80, 24])
    } finally {
      await ssh.cleanup()
    }
  })

  it('refuses a wrong password, slowly', async () => {
    const t0 = Date.now()
    const ssh = await runSsh({ port: server.port, user: 'vm1', password: 'wrong password' })
    const code = await ssh.exited
    await ssh.cleanup()
    expect(code).toBe(255)
    expect(ssh.out()).toMatch(/Permission denied/)
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300)
  })

  it('refuses a machine without a console password and one that does not exist', async () => {
    for (const user of ['vm2', 'nope']) {
      const ssh = await runSsh({ port: server.port, user, password: 'correct horse' })
      expect(await ssh.exited).toBe(255)
      await ssh.cleanup()
    }
  })

  it('never runs a command on the provider (exec refused)', async () => {
    const ssh = await runSsh({ port: server.port, user: 'vm1', password: 'correct horse', command: ['id'] })
    const code = await ssh.exited
    await ssh.cleanup()
    // The server refuses the exec channel request itself: OpenSSH says so and exits 255.
    expect(code).toBe(255)
    expect(ssh.out()).toMatch(/exec request failed/)
    expect(ssh.out()).not.toMatch(/uid=/)
  })

  it('a second ssh viewer takes over and the first one is told', async () => {
    const one = await runSsh({ port: server.port, user: 'vm1', password: 'correct horse' })
    await waitFor(() => one.out().includes('/ # '), 15_000, 'first prompt')
    const two = await runSsh({ port: server.port, user: 'vm1', password: 'correct horse' })
    try {
      await waitFor(() => two.out().includes('/ # '), 15_000, 'second prompt')
      await waitFor(() => one.out().includes('another viewer attached'), 10_000, 'the takeover notice')
      expect(await one.exited).toBe(0)
    } finally {
      await one.cleanup()
      await two.cleanup()
    }
  })
})
