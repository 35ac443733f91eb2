// Hashing skips holes: the manifest of a sparse file read through `qemu-img map` equals the one of a
// full read, block for block, with data at odd offsets and across block edges; a map that does not
// tile the file is refused (the caller then reads everything).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { mkdtemp, open, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BLOCK_SIZE, HASH_BYTES, blockRanges, hashBlock, hashFile, rootOf } from '../../src/vmmp/manifest.ts'
import { dataRanges, MAP_MIN_BYTES, parseMap } from '../../src/vmmp/holes.ts'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vmmp-holes-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('hashing holes', () => {
  it('a sparse file hashes the same with holes skipped as read whole', async () => {
    const path = join(dir, 'disk-flat.vmdk')
    const size = MAP_MIN_BYTES * 2 + 12345 // a short last block too
    const fh = await open(path, 'w')
    await fh.truncate(size)
    for (const at of [0, 5 * BLOCK_SIZE + 17, 40 * BLOCK_SIZE - 3, MAP_MIN_BYTES + 1, size - 100])
      await fh.write(randomBytes(100), 0, 100, at)
    await fh.close()
    const ranges = await dataRanges(path, size)
    expect(ranges).not.toBeNull() // qemu-img is installed by the project's set-up
    const mapped = ranges!.reduce((s, [a, b]) => s + (b - a), 0)
    expect(mapped).toBeLessThan(size / 4)
    const m = await hashFile(path, 'disk-flat.vmdk')
    const whole = await readFile(path)
    const want = Buffer.alloc(m.hashes.length)
    for (let i = 0; i * BLOCK_SIZE < size; i++)
      hashBlock(whole.subarray(i * BLOCK_SIZE, Math.min(size, (i + 1) * BLOCK_SIZE))).copy(want, i * HASH_BYTES)
    expect(m.hashes.equals(want)).toBe(true)
    expect(m.root).toBe(rootOf(size, want))
  })

  it('reads small files whole and refuses maps that do not tile the file', async () => {
    expect(await dataRanges(join(dir, 'none'), MAP_MIN_BYTES - 1)).toBeNull()
    expect(await dataRanges(join(dir, 'missing'), MAP_MIN_BYTES)).toBeNull()
    const e = (start: number, length: number, zero: boolean) => ({ start, length, zero, data: !zero })
    expect(parseMap(JSON.stringify([e(0, 10, true), e(10, 5, false), e(15, 5, false)]), 20)).toEqual([[10, 20]])
    expect(parseMap(JSON.stringify([e(0, 10, true), e(12, 8, false)]), 20)).toBeNull() // a gap
    expect(parseMap(JSON.stringify([e(0, 10, false)]), 20)).toBeNull() // short
    expect(parseMap('not json', 20)).toBeNull()
    expect(parseMap(JSON.stringify([e(0, 512, false)]), 500)).toEqual([[0, 500]]) // rounded up to a sector
    expect(
      blockRanges(
        [
          [1, 2],
          [BLOCK_SIZE - 1, BLOCK_SIZE + 1],
          [3 * BLOCK_SIZE, 3 * BLOCK_SIZE],
        ],
        10 * BLOCK_SIZE,
      ),
    ).toEqual([[0, 2 * BLOCK_SIZE]])
  })
})
