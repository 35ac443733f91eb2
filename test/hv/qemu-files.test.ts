// Issue 11 item 9: the short socket links never sit where another local user can swap them, and a
// speed limit that could not be applied is said (info notes, a 'warning' event), not swallowed.
import { describe, it, expect, afterAll } from 'vitest'
import { chown, lstat, mkdir, mkdtemp, readlink, readdir, realpath, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import { linkDir, shortDir } from '../../src/hv/qemu/short-dir.ts'
import type { HvWarning } from '../../src/hv/types.ts'
import { killProcessesNaming } from './strays.ts'

const PREFIX = join(tmpdir(), 'virtuoso-hvfiles-')
const deep = (root: string) =>
  join(root, 'a-directory-name-long-enough', 'to-push-the-socket-path', 'past-eighty-bytes')

afterAll(async () => {
  // Any QEMU or qemu-nbd a failed test left behind names its machine directory, under PREFIX.
  await killProcessesNaming(PREFIX)
})

describe('short socket directories', () => {
  it('a deep directory is reached through a link in a private directory of ours (0700, not a link)', async () => {
    const tmp = await mkdtemp(PREFIX)
    try {
      const dir = deep(tmp)
      await mkdir(dir, { recursive: true })
      const link = await shortDir(dir, tmp)
      expect(link.length).toBeLessThanOrEqual(80)
      expect(await readlink(link)).toBe(dir)
      const st = await lstat(dirname(link))
      expect(st.isDirectory()).toBe(true)
      expect(st.uid).toBe(process.getuid!())
      expect(st.mode & 0o777).toBe(0o700)
      // The same path again (a restarted agent finds its sockets), and nothing in the shared directory.
      expect(await shortDir(dir, tmp)).toBe(link)
      expect((await readdir(tmp)).filter((f) => f.startsWith('virtuoso-hv'))).toEqual([])
    } finally {
      await rm(tmp, { recursive: true, force: true })
    }
  })

  for (const [what, plant] of [
    [
      'open to others',
      async (d: string) =>
        mkdir(d, { mode: 0o777 }).then(() => import('node:fs/promises').then((f) => f.chmod(d, 0o777))),
    ],
    ['owned by another user', async (d: string) => mkdir(d, { mode: 0o700 }).then(() => chown(d, 65534, 65534))],
    ['a link to elsewhere', async (d: string) => symlink(join(dirname(d), 'elsewhere'), d)],
  ] as const)
    it(`a link directory planted by someone else (${what}) is not used`, async () => {
      const tmp = await mkdtemp(PREFIX)
      try {
        await mkdir(join(tmp, 'elsewhere'))
        const planted = join(tmp, `virtuoso-${process.getuid!()}`)
        await plant(planted)
        const dir = deep(tmp)
        await mkdir(dir, { recursive: true })
        const link = await shortDir(dir, tmp)
        expect(await realpath(link)).toBe(await realpath(dir))
        const holder = await realpath(dirname(link))
        expect(holder).not.toBe(await realpath(planted))
        expect((await lstat(holder)).mode & 0o777).toBe(0o700)
        expect(await readdir(join(tmp, 'elsewhere'))).toEqual([])
        expect(await linkDir(tmp)).toBe(dirname(link))
      } finally {
        await rm(tmp, { recursive: true, force: true })
      }
    })
})

describe('a speed limit that cannot be applied', () => {
  it("is in the node's info and raised as a warning, and the machine still runs", async () => {
    const root = await mkdtemp(PREFIX)
    const dir = deep(root)
    // A cgroup directory where the machine's group cannot be made: a file is in its place.
    const cgroup = join(root, 'cgroup')
    await mkdir(cgroup)
    await writeFile(join(cgroup, 'spd'), 'not a directory')
    const hv = await Hypervisor.open({
      driver: 'qemu',
      dir,
      accel: 'tcg',
      stopTimeoutMs: 10_000,
      qemu: { cgroupBase: cgroup },
    })
    try {
      const warned = new Promise<HvWarning>((res) => hv.once('warning', res))
      await hv.create('spd', { memory: 128, hd: 2100, speed: 1000, os: 'linux' })
      await hv.register('spd')
      await hv.start('spd')
      const w = await warned
      expect(w).toMatchObject({ type: 'vm.speed-unlimited', vmId: 'spd' })
      const info = await hv.info()
      expect(info.notes.some((n) => n.includes('machine spd') && n.includes('cpu.max'))).toBe(true)
      expect((await hv.get('spd')).state).toBe('running')
      await hv.stop('spd')
      await hv.delete('spd')
      expect((await hv.info()).notes.some((n) => n.includes('machine spd'))).toBe(false)
    } finally {
      await hv.close()
      await rm(root, { recursive: true, force: true })
    }
  }, 120_000)
})
