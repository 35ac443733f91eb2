// The sparse hash list of blocks@1: a bitmap of non-zero blocks and their hashes, decoded back to
// exactly the dense list; answers whose length does not match their bitmap are refused.
import { describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { HASH_BYTES, ZERO_HASH } from '../../src/vmmp/manifest.ts'
import { decodeSparse, encodeSparse } from '../../src/vmmp/sparse-hashes.ts'

function denseList(n: number, dataEvery: number): Buffer {
  const out = Buffer.alloc(n * HASH_BYTES)
  for (let i = 0; i < n; i += dataEvery) randomBytes(HASH_BYTES).copy(out, i * HASH_BYTES)
  return out
}

describe('sparse hash lists', () => {
  it('round-trips any range, and a mostly empty list shrinks to its bitmap', () => {
    const dense = denseList(48_003, 97)
    const sparse = encodeSparse(dense, 0, 48_003)
    expect(decodeSparse(sparse, 48_003).equals(dense)).toBe(true)
    expect(sparse.length).toBe(Math.ceil(48_003 / 8) + Math.ceil(48_003 / 97) * HASH_BYTES)
    const part = encodeSparse(dense, 1000, 77)
    expect(decodeSparse(part, 77).equals(dense.subarray(1000 * HASH_BYTES, 1077 * HASH_BYTES))).toBe(true)
  })

  it('refuses an answer that is short, too long, or marks a zero hash as data', () => {
    const dense = denseList(100, 3)
    const sparse = encodeSparse(dense, 0, 100)
    expect(() => decodeSparse(sparse.subarray(0, sparse.length - 1), 100)).toThrow(
      expect.objectContaining({ code: 'VMMP_PROTOCOL' }),
    )
    expect(() => decodeSparse(Buffer.concat([sparse, Buffer.alloc(1)]), 100)).toThrow(
      expect.objectContaining({ code: 'VMMP_PROTOCOL' }),
    )
    const lying = Buffer.from(sparse)
    ZERO_HASH.copy(lying, Math.ceil(100 / 8))
    expect(() => decodeSparse(lying, 100)).toThrow(expect.objectContaining({ code: 'VMMP_PROTOCOL' }))
    expect(() => decodeSparse(Buffer.alloc(3), 100)).toThrow(expect.objectContaining({ code: 'VMMP_PROTOCOL' }))
  })
})
