// blocks@1's sparse hash list (op SPARSE_HASHES): a bitmap of the blocks that are not all zeros, then
// only their hashes. A mostly empty 3000 MB disk has 48,000 block hashes, 1.5 MB on the wire dense
// and ~6 KB sparse; that list crossed the wire on every RSYNC trip, unchanged machines included.
// Decoding gives back exactly the dense list (ZERO_HASH for the unset bits), so the whole-file root
// still checks every entry.
import { HASH_BYTES, ZERO_HASH } from './manifest.ts'
import { vmmpError } from './errors.ts'

/** Hashes `start .. start+count` of a dense list, sparse. */
export function encodeSparse(dense: Buffer, start: number, count: number): Buffer {
  const bitmap = Buffer.alloc(Math.ceil(count / 8))
  const parts: Buffer[] = [bitmap]
  for (let i = 0; i < count; i++) {
    const off = (start + i) * HASH_BYTES
    if (dense.compare(ZERO_HASH, 0, HASH_BYTES, off, off + HASH_BYTES) === 0) continue
    bitmap[i >> 3] |= 1 << (i & 7)
    parts.push(dense.subarray(off, off + HASH_BYTES))
  }
  return Buffer.concat(parts)
}

/** The dense list of `count` hashes; throws VMMP_PROTOCOL when the answer's length does not add up. */
export function decodeSparse(data: Buffer, count: number): Buffer {
  const bitmapBytes = Math.ceil(count / 8)
  if (data.length < bitmapBytes) throw vmmpError.protocol('short sparse hash list')
  const out = Buffer.alloc(count * HASH_BYTES)
  let from = bitmapBytes
  for (let i = 0; i < count; i++) {
    if (!(data[i >> 3] & (1 << (i & 7)))) continue
    if (from + HASH_BYTES > data.length) throw vmmpError.protocol('short sparse hash list')
    const h = data.subarray(from, from + HASH_BYTES)
    if (h.equals(ZERO_HASH)) throw vmmpError.protocol('a sparse hash list marks a zero hash as data')
    h.copy(out, i * HASH_BYTES)
    from += HASH_BYTES
  }
  if (from !== data.length) throw vmmpError.protocol('sparse hash list longer than its bitmap says')
  return out
}
