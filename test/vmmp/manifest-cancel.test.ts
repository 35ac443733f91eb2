// A machine deleted while its background manifest is being computed (issue 11): the delete cancels the
// job and waits for it to end, so nothing is written into the directory being removed (a CI run failed
// with ENOTEMPTY when the manifest landed mid-removal), and a big disk's hash does not delay the delete.
// Real Hypervisor (test driver writing real sparse extents) and the real migration origin's warmer.
import { afterEach, describe, expect, it } from 'vitest'
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import { TestDriver } from '../../src/hv/test/driver.ts'
import { MigrationOrigin } from '../../src/vmmp/origin.ts'
import { ManifestWarmer } from '../../src/vmmp/warm-manifests.ts'
import { makeImage } from './helpers.ts'

const CONFIG = { memory: 128, hd: 2100, speed: 1000, os: 'linux' }
let root = ''
let hv: Hypervisor | null = null
afterEach(async () => {
  await hv?.close()
  await rm(root, { recursive: true, force: true })
})

/** A log that remembers its lines in order and resolves `waitFor` when a matching one arrives. */
function recorder() {
  const lines: string[] = []
  const waiters: Array<{ re: RegExp; done: () => void }> = []
  return {
    lines,
    log(line: string) {
      lines.push(line)
      for (const w of waiters.filter((w) => w.re.test(line))) w.done()
    },
    waitFor(re: RegExp): Promise<void> {
      if (lines.some((l) => re.test(l))) return Promise.resolve()
      return new Promise((done) => waiters.push({ re, done }))
    },
  }
}

/** A stored machine whose largest extent (2 GiB, sparse) holds 64 MiB of data in scattered runs. */
async function bigMachine(id: string): Promise<void> {
  root = await mkdtemp(join(tmpdir(), 'vmmp-cancel-'))
  hv = await Hypervisor.open({ driver: new TestDriver({ writeFiles: true }), dir: join(root, 'machines') })
  await hv.create(id, CONFIG)
  await hv.register(id)
  const files = await hv.files(id)
  const sizes = await Promise.all(files.map(async (f) => (await stat(join(hv!.dirOf(id), f))).size))
  const biggest = sizes.indexOf(Math.max(...sizes))
  await makeImage(join(hv.dirOf(id), files[biggest]), sizes[biggest], (64 * 1048576) / sizes[biggest])
}

describe('a delete during a background manifest', () => {
  it('cancels the job, which has ended when the delete returns, and no file reappears', async () => {
    await bigMachine('vm1')
    const rec = recorder()
    const origin = new MigrationOrigin({ hv: hv!, log: rec.log })
    origin.atRest('vm1', 1)
    await hv!.delete('vm1')
    rec.lines.push('deleted')
    const ended = /no manifest of vm1 at version 1 ahead of time|manifest of vm1 at version 1 ready/
    await rec.waitFor(ended)
    const end = rec.lines.findIndex((l) => ended.test(l))
    // Without the cancellation, the 64 MiB hash was still running when the delete returned.
    expect(end).toBeLessThan(rec.lines.indexOf('deleted'))
    expect(rec.lines[end]).toMatch(/cancelled, the machine is being removed/)
    expect(await readdir(join(root, 'machines'))).not.toContain('vm1')
  })

  it('a job queued behind another machine is dropped at once, not waited for', async () => {
    await bigMachine('vm1')
    const rec = recorder()
    const w = new ManifestWarmer(rec.log)
    const dir = hv!.dirOf('vm1')
    w.schedule('vm1', dir, () => hv!.files('vm1'), 1)
    w.schedule('vm2', join(root, 'vm2'), async () => [], 1)
    await w.cancel('vm2')
    expect(w.pending('vm2')).toBe(false)
    expect(w.pending('vm1')).toBe(true) // still hashing: the cancel did not wait for it
    await w.cancel('vm1')
    expect(w.pending('vm1')).toBe(false)
    expect(rec.lines.join('\n')).not.toMatch(/vm2/)
    expect((await readdir(dir)).filter((n) => n.startsWith('.manifest-'))).toEqual([])
  })
})
