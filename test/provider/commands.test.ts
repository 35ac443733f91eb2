// A command the hub sends again because the answer was lost (issue 11: versions never out of sync,
// report §7.1.5): the node answers as done when the machine already is where the command leaves it,
// and still refuses a version it never had. Real Hypervisor, test driver.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import { vmCommand } from '../../src/provider/commands.ts'

const CONFIG = { memory: 128, hd: 2048, speed: 1000, os: null }
let dir: string
let hv: Hypervisor
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'virtuoso-commands-'))
  hv = await Hypervisor.open({ driver: 'test', dir })
})
afterEach(async () => {
  await hv.close()
  await rm(dir, { recursive: true, force: true })
})

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'NO_ERROR',
    (e) => e.code,
  )

describe('provider commands sent again', () => {
  it('create, stop, suspend, start, resume and delete answer as done when already done', async () => {
    const create = { vmId: 'vm1', config: CONFIG, version: 0 }
    expect(await vmCommand(hv, 'vm.create', create)).toEqual({ version: 1 })
    expect(await vmCommand(hv, 'vm.create', create)).toEqual({ version: 1 })
    expect(await codeOf(vmCommand(hv, 'vm.create', { ...create, config: { ...CONFIG, memory: 256 } }))).toBe(
      'HV_EXISTS',
    )
    for (let i = 0; i < 2; i++)
      expect(await vmCommand(hv, 'vm.start', { vmId: 'vm1', version: 1 })).toEqual({ version: 1 })
    for (let i = 0; i < 2; i++)
      expect(await vmCommand(hv, 'vm.stop', { vmId: 'vm1', version: 1 })).toEqual({ version: 2 })
    await vmCommand(hv, 'vm.start', { vmId: 'vm1', version: 2 })
    for (let i = 0; i < 2; i++)
      expect(await vmCommand(hv, 'vm.suspend', { vmId: 'vm1', version: 2 })).toEqual({ version: 3 })
    for (let i = 0; i < 2; i++)
      expect(await vmCommand(hv, 'vm.resume', { vmId: 'vm1', version: 3 })).toEqual({ version: 3 })
    expect((await hv.get('vm1')).state).toBe('running')
    await vmCommand(hv, 'vm.stop', { vmId: 'vm1', version: 3 })
    for (let i = 0; i < 2; i++) expect(await vmCommand(hv, 'vm.delete', { vmId: 'vm1' })).toEqual({})
  })

  it('still refuses a version the machine never had or a state it is not in', async () => {
    await vmCommand(hv, 'vm.create', { vmId: 'vm1', config: CONFIG, version: 0 })
    expect(await codeOf(vmCommand(hv, 'vm.start', { vmId: 'vm1', version: 5 }))).toBe('NODE_VERSION_MISMATCH')
    // stop from 'registered' at the right version is a state error, not "done"
    expect(await codeOf(vmCommand(hv, 'vm.stop', { vmId: 'vm1', version: 1 }))).toBe('HV_BAD_STATE')
    // a stop "already done" must be at exactly version + 1 and stopped
    await vmCommand(hv, 'vm.start', { vmId: 'vm1', version: 1 })
    await vmCommand(hv, 'vm.stop', { vmId: 'vm1', version: 1 })
    expect(await codeOf(vmCommand(hv, 'vm.stop', { vmId: 'vm1', version: 0 }))).toBe('NODE_VERSION_MISMATCH')
  })
})
