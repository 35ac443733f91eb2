// The `debian-12` image (fixtures/images/build.sh) on real QEMU under TCG, booted from its own disk:
// GRUB in the image, Debian's kernel, systemd; the first-boot seed names the machine and installs the
// buyer's key and root's password hash; the serial console logs in as root by itself; the screen shows a normal login.
// One boot only: it is the slowest test of the suite.
import { describe, it, expect, afterAll } from 'vitest'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import { DEFAULT_IMAGE_DIR } from '../../src/hv/image.ts'
import { ConsoleSession } from './console.ts'
import { readPng } from './png.ts'
import { sha512Crypt } from '../../src/console/crypt.ts'

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBuyerKeyForTheDebianBootTestOnlyAAAAAAAAAAAAA buyer@test'
const dirs: string[] = []
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true })
})

describe('debian-12 image', () => {
  it('boots from its disk to a root shell on the serial console, set up from the seed', async () => {
    if (!existsSync(join(DEFAULT_IMAGE_DIR, 'debian-12.img')))
      throw new Error('debian-12 image not built: run `bash fixtures/images/build.sh debian-12`')
    const dir = await mkdtemp(join(tmpdir(), 'virtuoso-debian-'))
    dirs.push(dir)
    const hv = await Hypervisor.open({ driver: 'qemu', dir, accel: 'tcg', stopTimeoutMs: 30_000 })
    try {
      await hv.create('deb', { memory: 512, hd: 3000, speed: 1000, os: 'debian-12' })
      await hv.register('deb')
      const passwordHash = await sha512Crypt('console pw of deb')
      await hv.setGuest('deb', { hostname: 'deb-test', sshKeys: [KEY], passwordHash })
      await hv.start('deb')
      const term = new ConsoleSession(await hv.console('deb'))
      // agetty's autologin, then bash's prompt with the seed's hostname.
      await term.waitFor(/deb-test login: root \(automatic login\)/, 480_000)
      await term.waitFor(/root@deb-test:~# /, 60_000)
      expect((await term.run('cat /etc/debian_version')).trim()).toMatch(/^12\.\d+$/)
      expect(await term.run('cat /root/.ssh/authorized_keys')).toBe(KEY + '\n')
      // root's password is the console password's hash from the seed
      expect((await term.run('getent shadow root | cut -d: -f2')).trim()).toBe(passwordHash)
      // The image is ~0.5 GB; virtuoso-grow.service grows the root file system to the 3000 MB disk
      // beside the logins (`systemctl start` waits for it if it is still running).
      await term.run('systemctl start virtuoso-grow.service', 120_000)
      const size = Number((await term.run("df -BM --output=size / | tail -n1 | tr -dc '0-9'")).trim())
      expect(size).toBeGreaterThan(2500)
      expect((await term.run('ls /etc/ssh/ssh_host_ed25519_key.pub')).trim()).toBe('/etc/ssh/ssh_host_ed25519_key.pub')
      term.close()
      const shot = join(dir, 'screen.png')
      await hv.screenshot('deb', shot)
      const png = readPng(await readFile(shot))
      expect(png.width).toBeGreaterThan(0)
      await hv.stop('deb')
      expect(await hv.get('deb')).toMatchObject({ state: 'stopped' })
    } finally {
      await hv.close()
    }
  }, 720_000)
})
