// The conformance suite on real QEMU guests under TCG (KVM hangs on these hosts), plus what only a
// real VMM can get wrong. Every QEMU and qemu-nbd started here names its machine directory on its
// command line, so afterAll can find and kill any that a failed test left behind.
import { describe, it, expect, afterAll } from 'vitest'
import { readdir, readFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import { conformance, expectCode } from './conformance.ts'
import { ConsoleSession } from './console.ts'
import { readPng } from './png.ts'
import { killProcessesNaming, processesNaming } from './strays.ts'

const PREFIX = join(tmpdir(), 'virtuoso-hv-')

afterAll(async () => {
  await killProcessesNaming(PREFIX)
  await new Promise((r) => setTimeout(r, 200))
  expect(await processesNaming(PREFIX)).toEqual([])
})

conformance({
  name: 'qemu',
  config: { memory: 128, hd: 2100, speed: 1000, os: 'linux' },
  realGuest: true,
  bootTimeoutMs: 90_000,
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

  it('a missing OS image is HV_IMAGE_MISSING at create, and leaves nothing behind', async () => {
    const dir = await mkdtemp(PREFIX)
    const hv = await Hypervisor.open({ driver: 'qemu', dir, accel: 'tcg', qemu: { imageDir: join(dir, 'no-image') } })
    try {
      await expectCode(hv.create('img', { memory: 128, hd: 2100, speed: 1000, os: 'linux' }), 'HV_IMAGE_MISSING')
      await expectCode(hv.create('win', { memory: 128, hd: 2100, speed: 1000, os: 'windows' }), 'HV_IMAGE_MISSING')
      expect(await hv.list()).toEqual([])
      expect((await readdir(dir)).filter((f) => !f.startsWith('.'))).toEqual([])
    } finally {
      await hv.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('qemu screen', () => {
  it('every machine has a screen: screenshot writes a valid PNG, vnc speaks RFB, a second viewer replaces the first', async () => {
    const dir = await mkdtemp(PREFIX)
    const hv = await Hypervisor.open({ driver: 'qemu', dir, accel: 'tcg', stopTimeoutMs: 10_000 })
    try {
      await hv.create('scr', { memory: 128, hd: 2100, speed: 1000, os: 'linux' })
      await hv.register('scr')
      await expectCode(hv.screenshot('scr', join(dir, 'early.png')), 'HV_BAD_STATE')
      await hv.start('scr')
      const term = new ConsoleSession(await hv.console('scr'))
      await term.waitFor(/VIRTUOSO-GUEST-READY/, 60_000)
      term.close()
      const file = join(dir, 'screen.png')
      await hv.screenshot('scr', file)
      const png = readPng(await readFile(file))
      // The guest stays in VGA text mode: 80×25 cells of 9×16 pixels.
      expect([png.width, png.height]).toEqual([720, 400])
      // Not a black screen: the firmware and the shell wrote on it.
      expect(png.raw.some((b, i) => i % (1 + png.width * 3) !== 0 && b !== 0)).toBe(true)

      const first = await hv.vnc('scr')
      expect((await firstBytes(first, 12)).toString('latin1')).toMatch(/^RFB 003\.00\d\n$/)
      const closed = new Promise((r) => first.once('close', r))
      const second = await hv.vnc('scr')
      await closed
      expect((await firstBytes(second, 12)).toString('latin1')).toMatch(/^RFB 003\.00\d\n$/)
      second.destroy()
      await hv.stop('scr')
    } finally {
      await hv.close()
      await rm(dir, { recursive: true, force: true })
    }
  }, 120_000)
})

function firstBytes(s: NodeJS.ReadableStream, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let got = Buffer.alloc(0)
    const onData = (b: Buffer): void => {
      got = Buffer.concat([got, b])
      if (got.length >= n) {
        s.off('data', onData)
        resolve(got.subarray(0, n))
      }
    }
    s.on('data', onData)
    s.once('error', reject)
  })
}
