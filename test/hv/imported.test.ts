// Files that arrive by migration are checked before QEMU opens them (issue 11, item 1): a descriptor
// that differs from the configuration's (an extent outside the machine directory, another size), an
// extent that is a link or of the wrong size, or a saved state that is not a QEMU stream is refused;
// a disk QEMU itself has written (new CID, NUL-padded sector) passes and gets our descriptor back.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { link, mkdtemp, readFile, rm, stat, symlink, truncate, writeFile, mkdir, rename } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDisk, descriptorName, diskGeometry, vmdkDescriptor } from '../../src/hv/disk.ts'
import { checkImportedDisk, checkSavedState } from '../../src/hv/imported.ts'

const HD = 2100
let root: string
let dir: string
const desc = () => join(dir, descriptorName())
const code = (p: Promise<unknown>) =>
  p.then(
    () => 'NO_ERROR',
    (e) => e.code,
  )

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'virtuoso-imported-'))
  dir = join(root, 'vm1')
  await createDisk(dir, HD)
})
afterEach(async () => {
  await rm(root, { recursive: true, force: true })
})

describe('an arrived disk', () => {
  it('passes when it is the configured one, also after QEMU wrote to it', async () => {
    await checkImportedDisk('vm1', dir, HD)
    execFileSync('qemu-io', ['-f', 'vmdk', '-c', 'write 0 4k', desc()])
    const written = await readFile(desc(), 'latin1')
    expect(written).toMatch(/\0$/) // what QEMU leaves: the sector back, NUL-padded
    await checkImportedDisk('vm1', dir, HD)
    expect(await readFile(desc(), 'utf8')).not.toMatch(/\0/)
  })

  it('leaves a descriptor that is already exactly ours, and rewrites one with another link to it', async () => {
    await checkImportedDisk('vm1', dir, HD)
    const ino = (await stat(desc())).ino
    await checkImportedDisk('vm1', dir, HD)
    expect((await stat(desc())).ino).toBe(ino) // its cached block manifest entry stays valid
    await link(desc(), join(root, 'elsewhere'))
    await checkImportedDisk('vm1', dir, HD)
    expect((await stat(desc())).ino).not.toBe(ino)
    expect((await stat(desc())).nlink).toBe(1)
  })

  it('refuses a descriptor whose extents point elsewhere', async () => {
    const g = diskGeometry(HD)
    const good = vmdkDescriptor(g)
    for (const evil of [
      good.replace(`"${g.extents[0].file}"`, '"../other/disk-f001.vmdk"'),
      good.replace(`"${g.extents[0].file}"`, '"/var/lib/virtuoso/identity.json"'),
      good.replace('FLAT', 'ZERO'),
      good + 'RW 10 FLAT "extra.vmdk" 0\n',
    ]) {
      await writeFile(desc(), evil)
      expect(await code(checkImportedDisk('vm1', dir, HD))).toBe('HV_BAD_INPUT')
    }
  })

  it('refuses a disk of another size than the configuration', async () => {
    expect(await code(checkImportedDisk('vm1', dir, 4200))).toBe('HV_BAD_INPUT')
  })

  it('refuses an extent that is a link or of the wrong size', async () => {
    const g = diskGeometry(HD)
    const ext = join(dir, g.extents[1].file)
    const other = join(root, 'other')
    await mkdir(other)
    await rename(ext, join(other, 'secret'))
    await symlink(join(other, 'secret'), ext)
    expect(await code(checkImportedDisk('vm1', dir, HD))).toBe('HV_BAD_INPUT')
    await rm(ext)
    await writeFile(ext, '')
    await truncate(ext, 4096)
    expect(await code(checkImportedDisk('vm1', dir, HD))).toBe('HV_BAD_INPUT')
  })

  it('refuses a saved state that is not a QEMU migration stream', async () => {
    const state = join(dir, 'state.sav')
    await writeFile(state, Buffer.concat([Buffer.from('QEVM'), Buffer.from([0, 0, 0, 3]), Buffer.alloc(64)]))
    await checkSavedState('vm1', state)
    await writeFile(state, '{"not":"qemu"}')
    expect(await code(checkSavedState('vm1', state))).toBe('HV_BAD_INPUT')
    await rm(state)
    await symlink(desc(), state)
    expect(await code(checkSavedState('vm1', state))).toBe('HV_BAD_INPUT')
  })
})
