// vmmp/block-hasher.ts: the worker thread's hash list equals manifest.ts's hashBlock, block by block,
// for data, all-zero blocks and a short last block, with many jobs in flight.
import { expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { BlockHasher, sharedBuffer } from '../../src/vmmp/block-hasher.ts'
import { BLOCK_SIZE, HASH_BYTES, hashBlock } from '../../src/vmmp/manifest.ts'

const expected = (data: Buffer) => {
  const out: Buffer[] = []
  for (let off = 0; off < data.length; off += BLOCK_SIZE)
    out.push(hashBlock(data.subarray(off, Math.min(data.length, off + BLOCK_SIZE))))
  return Buffer.concat(out)
}

it('hashes each block as hashBlock does: data, zero blocks (32 zero bytes) and a short last block', async () => {
  const hasher = new BlockHasher()
  const mem = sharedBuffer(16 * BLOCK_SIZE)
  randomBytes(mem.length).copy(mem)
  mem.fill(0, 3 * BLOCK_SIZE, 5 * BLOCK_SIZE) // blocks 3 and 4 are holes
  const run = mem.subarray(BLOCK_SIZE, 16 * BLOCK_SIZE - 1000) // an offset into the memory, a short end
  const hashes = await hasher.hash(run)
  expect(hashes.length).toBe(15 * HASH_BYTES)
  expect(hashes.equals(expected(run))).toBe(true)
  expect(hashes.subarray(2 * HASH_BYTES, 4 * HASH_BYTES).equals(Buffer.alloc(2 * HASH_BYTES))).toBe(true)
})

it('answers many jobs in flight, each with its own list', async () => {
  const hasher = new BlockHasher()
  const runs = Array.from({ length: 40 }, (_, i) => {
    const b = sharedBuffer(BLOCK_SIZE * (1 + (i % 5)))
    randomBytes(b.length).copy(b)
    return b
  })
  const lists = await Promise.all(runs.map((r) => hasher.hash(r)))
  lists.forEach((h, i) => expect(h.equals(expected(runs[i]))).toBe(true))
})

it('refuses memory the worker cannot share', () => {
  expect(() => new BlockHasher().hash(Buffer.alloc(BLOCK_SIZE))).toThrow(/shared memory/)
})

it('check passes a run that matches its file hash list and names the first block that does not', async () => {
  const hasher = new BlockHasher()
  const file = Buffer.alloc(8 * BLOCK_SIZE)
  randomBytes(file.length).copy(file)
  const hashes = expected(file)
  const run = sharedBuffer(3 * BLOCK_SIZE)
  file.copy(run, 0, 2 * BLOCK_SIZE, 5 * BLOCK_SIZE) // blocks 2-4
  await hasher.check(run, hashes, 2, 'disk-flat.vmdk')
  run[BLOCK_SIZE + 7] ^= 1 // block 3
  await expect(hasher.check(run, hashes, 2, 'disk-flat.vmdk')).rejects.toMatchObject({
    code: 'VMMP_CORRUPT',
    message: expect.stringContaining('block 3 of disk-flat.vmdk'),
  })
})
