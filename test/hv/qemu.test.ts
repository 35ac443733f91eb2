// The conformance suite on real QEMU guests under TCG (KVM hangs on these hosts), plus what only a
// real VMM can get wrong. Every QEMU and qemu-nbd started here names its machine directory on its
// command line, so afterAll can find and kill any that a failed test left behind.
import { describe, it, expect, afterAll } from 'vitest'
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import { conformance, expectCode } from './conformance.ts'

const PREFIX = join(tmpdir(), 'virtuoso-hv-')

async function ours(): Promise<number[]> {
  const pids: number[] = []
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue
    try {
      const stat = await readFile(`/proc/${p}/stat`, 'utf8')
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue
      if ((await readFile(`/proc/${p}/cmdline`, 'utf8')).includes(PREFIX)) pids.push(Number(p))
    } catch {
      /* gone */
    }
  }
  return pids
}

afterAll(async () => {
  for (const pid of await ours())
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      /* gone */
    }
  await new Promise((r) => setTimeout(r, 200))
  expect(await ours()).toEqual([])
})

conformance({
  name: 'qemu',
  config: { memory: 128, hd: 2100, speed: 1000, os: 'linux' },
  realGuest: true,
  bootTimeoutMs: 30_000,
  open: (dir, opts) =>
    Hypervisor.open({
      driver: 'qemu',
      dir,
      accel: 'tcg',
      stopTimeoutMs: 10_000,
      qemu: opts?.lowSpace ? { freeBytes: () => 100 * 1048576 } : {},
    }),
})

describe('qemu driver errors', () => {
  it('a missing QEMU is HV_QEMU_MISSING', async () => {
    const dir = await mkdtemp(PREFIX)
    try {
      await expectCode(
        Hypervisor.open({ driver: 'qemu', dir, qemu: { qemu: '/nonexistent/qemu-system-x86_64' } }),
        'HV_QEMU_MISSING',
      )
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('a missing guest image is HV_IMAGE_MISSING at start, and nothing keeps running', async () => {
    const dir = await mkdtemp(PREFIX)
    const hv = await Hypervisor.open({ driver: 'qemu', dir, accel: 'tcg', qemu: { guestDir: join(dir, 'no-image') } })
    try {
      await hv.create('img', { memory: 128, hd: 2100, speed: 1000, os: 'linux' })
      await hv.register('img')
      await expectCode(hv.start('img'), 'HV_IMAGE_MISSING')
      expect(await hv.get('img')).toMatchObject({ state: 'registered' })
      await expectCode(hv.create('win', { memory: 128, hd: 2100, speed: 1000, os: 'windows' }), 'HV_IMAGE_MISSING')
    } finally {
      await hv.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
