// The SSH console against a real QEMU guest (fixtures/guest/build, TCG): the screen picks up the
// boot from the serial chardev, and the real OpenSSH client logs in and runs a command in the
// guest's shell. Fails (never skips) when the guest image is not built, naming the fix.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import { ConsoleScreens } from '../../src/console/screens.ts'
import { ConsolePasswords } from '../../src/console/passwords.ts'
import { SshConsoleServer } from '../../src/console/ssh.ts'
import { RecordingViewer, waitFor } from './helpers.ts'
import { runSsh } from './ssh-client.ts'
import { TEST_SCRYPT_N } from '../scrypt-cost.ts'

const built = existsSync(resolve(import.meta.dirname, '../../fixtures/guest/build/vmlinuz'))
let dir: string
let hv: Hypervisor
let screens: ConsoleScreens
let server: SshConsoleServer

describe('console of a real QEMU guest', () => {
  beforeAll(async () => {
    if (!built)
      throw new Error('the guest image is not built (fixtures/guest/build/vmlinuz): run `bash scripts/setup.sh`')
    dir = await mkdtemp(join(tmpdir(), 'virtuoso-console-qemu-'))
    hv = await Hypervisor.open({ driver: 'qemu', dir: join(dir, 'machines'), accel: 'tcg', stopTimeoutMs: 10_000 })
    await hv.create('guest1', { memory: 128, hd: 2048, speed: 1000, os: 'linux' })
    await hv.register('guest1')
    screens = new ConsoleScreens(hv)
    const passwords = new ConsolePasswords(join(dir, 'pw'), { scryptN: TEST_SCRYPT_N })
    await passwords.set('guest1', 'qemu console pw')
    server = new SshConsoleServer({ screens, passwords, dataDir: dir })
    await server.start()
    await hv.start('guest1')
  }, 60_000)

  afterAll(async () => {
    await server?.close()
    screens?.close()
    await hv?.stop('guest1').catch(() => {})
    await hv?.close()
    await rm(dir, { recursive: true, force: true })
  }, 60_000)

  it('the screen keeps the boot; ssh logs in, runs a command, reads its output', async () => {
    const screen = await screens.get('guest1')
    const v = new RecordingViewer()
    const a = screen.attach(v)
    await v.until((x) => x.out.includes('VIRTUOSO-GUEST-READY'), 60_000)
    a.detach()
    const ssh = await runSsh({ port: server.port, user: 'guest1', password: 'qemu console pw' })
    try {
      // The repaint shows the ready marker even though this viewer came after the boot.
      await waitFor(() => ssh.out().includes('VIRTUOSO-GUEST-READY'), 15_000, 'the boot screen over ssh')
      ssh.proc.stdin.write('\r')
      ssh.proc.stdin.write('echo "qemu""-$((6*7))"\r')
      await waitFor(() => ssh.out().includes('qemu-42'), 20_000, 'the command output from the guest')
      expect(ssh.out()).toContain('qemu-42')
    } finally {
      await ssh.cleanup()
    }
  }, 90_000)
})
