// The thread behind block-hasher.ts: SHA-256 of each 64 KiB block of a run in shared memory, or 32
// zero bytes for an all-zero block (manifest.ts's hashBlock, whose rule this must keep). Plain
// JavaScript, so that Node runs it as it is from src/ (tsx, vitest) and from dist/ (the bundle).
import { parentPort } from 'node:worker_threads'
import { createHash } from 'node:crypto'

const BLOCK = 64 * 1024
const HASH = 32
const ZERO = Buffer.alloc(BLOCK)

parentPort.on('message', ({ id, memory, offset, length }) => {
  const data = Buffer.from(memory, offset, length)
  const n = Math.ceil(length / BLOCK)
  const hashes = Buffer.alloc(n * HASH)
  for (let b = 0; b < n; b++) {
    const block = data.subarray(b * BLOCK, Math.min(length, (b + 1) * BLOCK))
    if (!block.equals(ZERO.subarray(0, block.length)))
      createHash('sha256')
        .update(block)
        .digest()
        .copy(hashes, b * HASH)
  }
  parentPort.postMessage({ id, hashes }, [hashes.buffer])
})
