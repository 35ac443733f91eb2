// The conformance suite every hypervisor driver runs (abstract-level style), switched on by the
// manifest: verbs a driver lacks are expected to throw HV_NOT_SUPPORTED instead. One machine walks the
// whole life cycle in order, so a real-guest run boots as few times as possible.
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import type { HvVm, VmConfig } from '../../src/hv/types.ts'
import { ConsoleSession } from './console.ts'

export interface ConformanceOptions {
  name: string
  /** Open a Hypervisor on `dir`; `lowSpace` asks for a host that reports too little free storage. */
  open(dir: string, opts?: { lowSpace?: boolean }): Promise<Hypervisor>
  config: VmConfig
  /** The guest runs real processes (a background counter survives suspend/resume). */
  realGuest: boolean
  /** Wait for the guest to reach its shell after start/resume (read from the console). */
  bootTimeoutMs: number
  /** Called after each hypervisor is opened, so the caller can kill leftovers in afterAll. */
  track?(hv: Hypervisor): void
}

/** Reads the guest's background counter until it exceeds `floor` (the guest runs it every 0.2 s). */
async function counterAbove(t: ConsoleSession, floor: number, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const n = Number((await t.run('cat /data/c 2>/dev/null || echo 0')).trim())
    if (n > floor) return n
    if (Date.now() > deadline) throw new Error(`the guest's counter stayed at ${n} (waited for > ${floor})`)
  }
}

export async function expectCode(p: Promise<unknown> | (() => unknown), code: string): Promise<void> {
  let err: unknown
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    err = e
  }
  expect(err, `expected ${code}`).toBeDefined()
  expect((err as { code?: string }).code).toBe(code)
  expect(String((err as Error).message)).not.toMatch(/\n/)
}

export function conformance(o: ConformanceOptions): void {
  describe(`hv conformance: ${o.name}`, () => {
    let dir: string
    let hv: Hypervisor
    let term: ConsoleSession | null = null
    const id = 'vm-conf-1'

    const open = async (opts?: { lowSpace?: boolean }, at = dir): Promise<Hypervisor> => {
      const h = await o.open(at, opts)
      o.track?.(h)
      return h
    }
    const shell = async (): Promise<ConsoleSession> => {
      term?.close()
      term = new ConsoleSession(await hv.console(id))
      // The shell may still be booting; keep poking until it answers.
      const deadline = Date.now() + o.bootTimeoutMs
      for (;;) {
        try {
          expect(await term.run('echo "pi""ng"', 3000)).toContain('ping')
          return term
        } catch (err) {
          if (Date.now() > deadline) throw err
        }
      }
    }

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), `virtuoso-hv-${o.name}-`))
      hv = await open()
    })
    afterAll(async () => {
      term?.close()
      await hv?.close()
      await rm(dir, { recursive: true, force: true })
    })

    it('reports host info', async () => {
      if (!hv.manifest.info) return expectCode(hv.info(), 'HV_NOT_SUPPORTED')
      const info = await hv.info()
      expect(info.cpus).toBeGreaterThan(0)
      expect(info.bogomips).toBeGreaterThan(0)
      expect(info.memory).toBeGreaterThan(0)
      expect(info.storage).toBeGreaterThan(0)
      expect(['cgroup', 'none']).toContain(info.cpuLimit)
      if (info.cpuLimit === 'none') expect(info.notes.length).toBeGreaterThan(0)
    })

    it('refuses bad input with HV_BAD_INPUT', async () => {
      await expectCode(hv.create('../evil', o.config), 'HV_BAD_INPUT')
      await expectCode(hv.create('', o.config), 'HV_BAD_INPUT')
      await expectCode(hv.create('ok', { ...o.config, hd: 1000 }), 'HV_BAD_INPUT')
      await expectCode(hv.create('ok', { ...o.config, memory: 0 }), 'HV_BAD_INPUT')
      await expectCode(hv.create('ok', { ...o.config, speed: -1 }), 'HV_BAD_INPUT')
      await expectCode(hv.create('ok', { ...o.config, os: 'Bad OS!' }), 'HV_BAD_INPUT')
      await expectCode(hv.create('ok', null as unknown as VmConfig), 'HV_BAD_INPUT')
      await expectCode(hv.create('ok', o.config, { version: -1 }), 'HV_BAD_INPUT')
      expect(await hv.list()).toEqual([])
    })

    it('unknown machines are HV_NOT_FOUND', async () => {
      await expectCode(hv.get('nope'), 'HV_NOT_FOUND')
      for (const verb of ['register', 'start', 'stop', 'suspend', 'resume', 'delete', 'console', 'files'] as const) {
        if (verb !== 'files' && !hv.manifest[verb]) continue
        await expectCode((hv[verb] as (id: string) => Promise<unknown>)('nope'), 'HV_NOT_FOUND')
      }
    })

    it('creates a machine with the given version', async () => {
      if (!hv.manifest.create) return expectCode(hv.create(id, o.config), 'HV_NOT_SUPPORTED')
      const vm = await hv.create(id, o.config, { version: 7 })
      expect(vm).toEqual({ id, state: 'created', version: 7, config: o.config, origin: null })
      expect(await hv.list()).toEqual([vm])
      const files = await hv.files(id)
      expect(files).toContain('disk.vmdk')
      expect(files.some((f) => /^disk-f\d{3}\.vmdk$/.test(f))).toBe(true)
      await expectCode(hv.create(id, o.config), 'HV_EXISTS')
      expect(hv.dirOf(id)).toBe(join(dir, id))
    })

    it('enforces the state machine before register', async () => {
      if (hv.manifest.start) await expectCode(hv.start(id), 'HV_BAD_STATE')
      if (hv.manifest.stop) await expectCode(hv.stop(id), 'HV_BAD_STATE')
      if (hv.manifest.resume) await expectCode(hv.resume(id), 'HV_BAD_STATE')
    })

    it('register raises the version by one', async () => {
      if (!hv.manifest.register) return expectCode(hv.register(id), 'HV_NOT_SUPPORTED')
      expect(await hv.register(id)).toMatchObject({ state: 'registered', version: 8 })
      await expectCode(hv.register(id), 'HV_BAD_STATE')
    })

    it(
      'starts once, even when asked twice at the same time',
      async () => {
        if (!hv.manifest.start) return
        const [a, b] = await Promise.allSettled([hv.start(id), hv.start(id)])
        expect(a.status).toBe('fulfilled')
        expect(b.status).toBe('rejected')
        expect((b as PromiseRejectedResult).reason.code).toBe('HV_BAD_STATE')
        expect(await hv.get(id)).toMatchObject({ state: 'running', version: 8 })
        await expectCode(hv.start(id), 'HV_BAD_STATE')
        await expectCode(hv.delete(id), 'HV_BAD_STATE')
      },
      o.bootTimeoutMs * 2,
    )

    it(
      'gives a console and keeps a file across stop and start',
      async () => {
        if (!hv.manifest.console || !hv.manifest.stop) return
        const t = await shell()
        await t.run('echo hi > /data/f; sync')
        expect(await t.run('cat /data/f')).toBe('hi\n')
        t.close()
        expect(await hv.stop(id)).toMatchObject({ state: 'stopped', version: 9 })
        await expectCode(hv.console(id), 'HV_BAD_STATE')
        await hv.start(id)
        expect(await (await shell()).run('cat /data/f')).toBe('hi\n')
      },
      o.bootTimeoutMs * 3 + 30_000,
    )

    it(
      'suspends and resumes, keeping what runs in the guest',
      async () => {
        if (!hv.manifest.suspend) return expectCode(hv.suspend(id), 'HV_NOT_SUPPORTED')
        let t = await shell()
        let before = 0
        if (o.realGuest) {
          t.send('i=0; while true; do i=$((i+1)); echo $i > /data/c; sleep 0.2; done &')
          before = await counterAbove(t, 0)
        }
        await t.run('echo kept > /data/g; sync')
        t.close()
        expect(await hv.suspend(id)).toMatchObject({ state: 'suspended', version: 10 })
        expect((await hv.files(id)).length).toBeGreaterThan(2)
        await expectCode(hv.start(id), 'HV_BAD_STATE')
        await expectCode(hv.console(id), 'HV_BAD_STATE')
        expect(await hv.resume(id)).toMatchObject({ state: 'running', version: 10 })
        t = await shell()
        expect(await t.run('cat /data/g')).toBe('kept\n')
        if (o.realGuest) {
          const after = await counterAbove(t, before)
          // The counter went on from where it was, not from a fresh boot.
          expect(after).toBeLessThan(before + 100)
          t.send('kill %1 2>/dev/null; kill $(jobs -p) 2>/dev/null; true')
        }
      },
      o.bootTimeoutMs * 2 + 60_000,
    )

    it(
      'an agent that dies without stopping finds its running machine again',
      async () => {
        term?.close()
        term = null
        await hv.close() // like kill -9: nothing is stopped
        await expectCode(hv.get(id), 'HV_CLOSED')
        hv = await open()
        expect(await hv.get(id)).toMatchObject({ state: 'running', version: 10 })
        if (hv.manifest.console) expect(await (await shell()).run('cat /data/g')).toBe('kept\n')
      },
      o.bootTimeoutMs + 30_000,
    )

    it('stops, persists versions, and deletes', async () => {
      await expectCode(hv.delete(id), 'HV_BAD_STATE')
      term?.close()
      term = null
      expect(await hv.stop(id)).toMatchObject({ state: 'stopped', version: 11 })
      await hv.close()
      hv = await open()
      expect(await hv.get(id)).toMatchObject({ state: 'stopped', version: 11 })
      await hv.delete(id)
      await expectCode(hv.get(id), 'HV_NOT_FOUND')
      await hv.close()
      hv = await open()
      expect(await hv.list()).toEqual([])
    }, 60_000)

    it('a full disk is HV_NO_SPACE and leaves nothing behind', async () => {
      const low = await open({ lowSpace: true }, await mkdtemp(join(tmpdir(), `virtuoso-hv-low-`)))
      try {
        await expectCode(low.create('big', o.config), 'HV_NO_SPACE')
        await expectCode(low.get('big'), 'HV_NOT_FOUND')
      } finally {
        await rm(low.dir, { recursive: true, force: true })
        await low.close()
      }
    })

    it('imports a machine that migrated in', async () => {
      if (!hv.driver.import) return expectCode(hv.importVm('imp', o.config, { version: 3 }), 'HV_NOT_SUPPORTED')
      // Make the files the way the origin would have: a create elsewhere, then a copy of its directory.
      const other = await open(undefined, await mkdtemp(join(tmpdir(), 'virtuoso-hv-origin-')))
      try {
        await other.create('imp', o.config, { version: 3 })
        // Keep the extents sparse (fs.cp would write gigabytes of zeros).
        const { execa } = await import('execa')
        await execa('cp', ['-r', '--sparse=always', other.dirOf('imp'), hv.dirOf('imp')])
      } finally {
        await other.close()
        await rm(other.dir, { recursive: true, force: true })
      }
      const vm: HvVm = await hv.importVm('imp', o.config, { version: 3, origin: 'ab'.repeat(32) })
      expect(vm).toMatchObject({ state: 'stopped', version: 3, origin: 'ab'.repeat(32) })
      await expectCode(hv.importVm('imp', o.config, { version: 3 }), 'HV_EXISTS')
      await hv.delete('imp')
    })
  })
}
