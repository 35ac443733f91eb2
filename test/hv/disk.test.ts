import { describe, it, expect } from 'vitest'
import { mkdtemp, rm, stat, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execa } from 'execa'
import { createDisk, diskGeometry, MAX_EXTENT_CYLINDERS } from '../../src/hv/disk.ts'
import { expectCode } from './conformance.ts'

describe('disk geometry (report §6.2.5)', () => {
  it('3000 MB gives the report example exactly', () => {
    const g = diskGeometry(3000)
    expect(g.cylinders).toBe(382)
    expect(g.heads).toBe(255)
    expect(g.sectors).toBe(63)
    expect(g.capacity).toBe(6_136_830)
    expect(g.extents.map((e) => e.sectors)).toEqual([4_176_900, 1_959_930])
    expect(g.extents.map((e) => e.start)).toEqual([0, 4_176_900])
  })

  it('extents are whole cylinders of at most 2047 MB and add up', () => {
    for (const mb of [2048, 2100, 4094, 4095, 10_000, 65_536]) {
      const g = diskGeometry(mb)
      expect(g.cylinders).toBe(Math.floor((mb * 2048) / 16065))
      expect(g.extents.reduce((s, e) => s + e.sectors, 0)).toBe(g.capacity)
      for (const e of g.extents) {
        expect(e.sectors % 16065).toBe(0)
        expect(e.sectors * 512).toBeLessThanOrEqual(2047 * 1048576)
        expect(e.sectors / 16065).toBeLessThanOrEqual(MAX_EXTENT_CYLINDERS)
      }
    }
  })

  it('refuses sizes under 2048 MB and nonsense', async () => {
    for (const bad of [0, 100, 2047, 2048.5, NaN, -1, '3000'])
      await expectCode(() => diskGeometry(bad as number), 'HV_BAD_INPUT')
  })

  it('writes a sparse twoGbMaxExtentFlat disk that qemu-img accepts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtuoso-disk-'))
    try {
      const { files } = await createDisk(dir, 3000)
      expect(files).toEqual(['disk.vmdk', 'disk-f001.vmdk', 'disk-f002.vmdk'])
      const text = await readFile(join(dir, 'disk.vmdk'), 'utf8')
      expect(text).toContain('createType="twoGbMaxExtentFlat"')
      expect(text).toContain('RW 4176900 FLAT "disk-f001.vmdk" 0')
      expect(text).toContain('ddb.geometry.cylinders = "382"')
      const s = await stat(join(dir, 'disk-f001.vmdk'))
      expect(s.size).toBe(4_176_900 * 512)
      expect(s.blocks * 512).toBeLessThan(1 << 20)
      const info = JSON.parse((await execa('qemu-img', ['info', '--output=json', join(dir, 'disk.vmdk')])).stdout)
      expect(info.format).toBe('vmdk')
      expect(info['virtual-size']).toBe(6_136_830 * 512)
      await execa('qemu-img', ['check', join(dir, 'disk.vmdk')])
      await expectCode(createDisk(dir, 3000), 'EEXIST')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('checks free space first (HV_NO_SPACE)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtuoso-disk-'))
    try {
      await expectCode(createDisk(dir, 3000, { freeBytes: 1 << 30 }), 'HV_NO_SPACE')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
