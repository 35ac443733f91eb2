// The KVM probe: its result is kept per host boot (a restart does not pay up to 8 s again), and the
// probe QEMU never outlives the process that started it (a KVM guest that hangs spins at 100% CPU).
// The result tests run the real QEMU on the real guest image; the lifetime tests give the probe a
// program that never exits (`sleep`), since what they check is that the process ends, not QEMU.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execa } from 'execa'
import { existsSync } from 'node:fs'
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { probeKvm } from '../../src/hv/qemu/accel.ts'
import { readPid, waitGone } from '../../src/hv/qemu/proc.ts'

const ROOT = resolve(import.meta.dirname, '../..')
const GUEST = join(ROOT, 'fixtures/guest/build')
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'virtuoso-probe-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const probeOpts = (cacheFile: string | null, qemu = 'qemu-system-x86_64', timeoutMs = 3000) => ({
  qemu,
  kernel: join(GUEST, 'vmlinuz'),
  initrd: join(GUEST, 'initrd.img'),
  marker: 'VIRTUOSO-GUEST-READY',
  timeoutMs,
  cacheFile,
})

describe('KVM probe result per host boot', () => {
  it('probes once, then answers from the cache until the boot id changes', async () => {
    if (!existsSync(join(GUEST, 'vmlinuz')))
      throw new Error('the guest image is not built: run `bash scripts/setup.sh`')
    const cache = join(dir, 'cache', 'kvm-probe.json')
    const first = await probeKvm(probeOpts(cache))
    expect(first.note).not.toContain('earlier in this boot')
    const kept = JSON.parse(await readFile(cache, 'utf8'))
    expect(kept.bootId).toBe((await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim())
    const second = await probeKvm(probeOpts(cache))
    expect(second.accel).toBe(first.accel)
    expect(second.note).toContain('probed earlier in this boot')
    await writeFile(cache, JSON.stringify({ ...kept, bootId: 'another-boot' }))
    const third = await probeKvm(probeOpts(cache))
    expect(third.note).not.toContain('earlier in this boot')
  }, 30_000)
})

describe('the probe process never outlives its parent', () => {
  // A stand-in for a hung QEMU: records its pid, then never exits.
  const hung = async (): Promise<string> => {
    const f = join(dir, 'hung-qemu')
    await writeFile(f, `#!/bin/sh\necho $$ > ${join(dir, 'probe.pid')}\nexec sleep 300\n`)
    await chmod(f, 0o755)
    return f
  }
  /** A node process that starts the probe, then runs `then`. */
  const parent = async (timeoutMs: number, then: string) => {
    const script = join(dir, 'parent.mts')
    await writeFile(
      script,
      `import { probeKvm } from ${JSON.stringify(join(ROOT, 'src/hv/qemu/accel.ts'))}\n` +
        `import { existsSync } from 'node:fs'\n` +
        `void probeKvm(${JSON.stringify(probeOpts(null, join(dir, 'hung-qemu'), timeoutMs))})\n${then}\n`,
    )
    // Wrapped: an async function returning execa's promise would wait for the process to end.
    return { proc: execa('node', [join(ROOT, 'bin/run-ts.js'), script], { reject: false }) }
  }
  const probePid = async (): Promise<number> => {
    for (let i = 0; i < 200; i++) {
      const pid = await readPid(join(dir, 'probe.pid'))
      if (pid) return pid
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error('the probe never started')
  }

  it('ends with a parent that exits', async () => {
    await rm(join(dir, 'probe.pid'), { force: true })
    await hung()
    const pidFile = JSON.stringify(join(dir, 'probe.pid'))
    const p = await parent(60_000, `setInterval(() => existsSync(${pidFile}) && process.exit(0), 20)`)
    const pid = await probePid()
    expect((await p.proc).exitCode).toBe(0)
    expect(await waitGone(pid, 3000)).toBe(true)
  }, 20_000)

  it('ends within its time limit when the parent is killed with SIGKILL', async () => {
    await rm(join(dir, 'probe.pid'), { force: true })
    await hung()
    const p = await parent(2000, 'setInterval(() => {}, 1000)')
    const pid = await probePid()
    p.proc.kill('SIGKILL')
    await p.proc
    expect(await waitGone(pid, 6000)).toBe(true)
  }, 20_000)
})
