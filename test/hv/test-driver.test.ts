import { describe, it, expect } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import { TestDriver } from '../../src/hv/test/driver.ts'
import { conformance, expectCode } from './conformance.ts'

// The fake VMM lives in the driver object, so an "agent restart" reuses it, as a real VMM outlives the agent.
const drivers = new Map<string, TestDriver>()
conformance({
  name: 'test',
  config: { memory: 128, hd: 2100, speed: 1000, os: 'linux' },
  realGuest: false,
  bootTimeoutMs: 2000,
  async open(dir, opts) {
    if (opts?.lowSpace) return Hypervisor.open({ driver: 'test', dir, test: { storage: 100 } })
    let d = drivers.get(dir)
    if (!d) drivers.set(dir, (d = new TestDriver({ writeFiles: true })))
    return Hypervisor.open({ driver: d, dir })
  },
})

describe('hv public layer', () => {
  it('throws HV_NOT_SUPPORTED for verbs missing from the manifest', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtuoso-hv-ns-'))
    const hv = await Hypervisor.open({
      driver: new TestDriver({ manifest: { suspend: false, console: false, info: false } }),
      dir,
    })
    try {
      await hv.create('a', { memory: 128, hd: 2100, speed: 1, os: null })
      await hv.register('a')
      await hv.start('a')
      await expectCode(hv.suspend('a'), 'HV_NOT_SUPPORTED')
      await expectCode(hv.console('a'), 'HV_NOT_SUPPORTED')
      await expectCode(hv.info(), 'HV_NOT_SUPPORTED')
      expect(hv.manifest.name).toBe('test')
    } finally {
      await hv.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('keeps state in a caller-owned sublevel', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtuoso-hv-db-'))
    const { Level } = await import('level')
    const db = new Level<string, string>(join(dir, 'node-db'))
    const d = new TestDriver()
    try {
      let hv = await Hypervisor.open({ driver: d, dir, db: db.sublevel('hv') })
      await hv.create('a', { memory: 128, hd: 2100, speed: 1, os: null }, { version: 2 })
      await hv.register('a')
      await hv.close()
      expect(db.status).toBe('open')
      hv = await Hypervisor.open({ driver: d, dir, db: db.sublevel('hv') })
      expect(await hv.get('a')).toMatchObject({ state: 'registered', version: 3 })
      await hv.close()
    } finally {
      await db.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('reconciles a machine that powered off while the agent was away', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtuoso-hv-rec-'))
    const d = new TestDriver()
    try {
      let hv = await Hypervisor.open({ driver: d, dir })
      await hv.create('a', { memory: 128, hd: 2100, speed: 1, os: null }, { version: 1 })
      await hv.register('a')
      await hv.start('a')
      await hv.close()
      await d.stop('a')
      hv = await Hypervisor.open({ driver: d, dir })
      expect(await hv.get('a')).toMatchObject({ state: 'stopped', version: 3 })
      await hv.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses unknown drivers', async () => {
    await expectCode(Hypervisor.open({ driver: 'vmware' as 'test', dir: tmpdir() }), 'HV_BAD_INPUT')
  })
})
