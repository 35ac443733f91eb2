// Block hashes of arriving data, computed on a worker thread, for SCP's pull (methods/scp.ts): its main
// thread reads ssh's 64 KiB pipe, and hashing a 1 MiB run there (~0.8 ms with SHA-NI) let the pipe
// fill, so ssh, sshd, `cat` and the origin all stood still that long, every MiB. The data is in shared
// memory (sharedBuffer), so the worker reads it without a copy.
// Quiet flow bench, fully random 2 GiB disk: 8.30 and 8.25 s with it vs 8.94 s without (OpenSSH scp:
// 8.68, 9.30, 8.89 s). RSYNC's pull tried it too and gained nothing (4.82-4.84 s vs 4.81 s for its 30%
// row): its frames had to be copied into shared memory first, +1 CPU ms per MiB, and its main thread
// was not what held the copy back.
import { Worker } from 'node:worker_threads'
import { vmmpError } from './errors.ts'
import { HASH_BYTES } from './manifest.ts'

/** A Buffer over shared memory: what BlockHasher hashes without copying. */
export function sharedBuffer(size: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(size))
}

interface Job {
  resolve: (hashes: Buffer) => void
  reject: (err: Error) => void
}

export class BlockHasher {
  private worker: Worker | null = null
  private jobs = new Map<number, Job>()
  private nextId = 0

  /** The hash list of `data` (in BLOCK_SIZE blocks, as manifest.ts's hashBlock makes each). `data` must be
   *  a sharedBuffer's and must not change until this settles. */
  hash(data: Buffer): Promise<Buffer> {
    if (!(data.buffer instanceof SharedArrayBuffer)) throw new TypeError('BlockHasher hashes shared memory only')
    const worker = this.started()
    const id = this.nextId++
    return new Promise<Buffer>((resolve, reject) => {
      this.jobs.set(id, { resolve, reject })
      if (this.jobs.size === 1) worker.ref()
      worker.postMessage({ id, memory: data.buffer, offset: data.byteOffset, length: data.length })
    })
  }

  /** Hashes `data`, blocks `first`, `first + 1`, … of file `name`, and throws VMMP_CORRUPT at the first
   *  whose hash is not the one in `hashes` (the file's list from the origin's manifest). */
  async check(data: Buffer, hashes: Buffer, first: number, name: string): Promise<void> {
    const got = await this.hash(data)
    for (let i = 0; i * HASH_BYTES < got.length; i++) {
      const at = (first + i) * HASH_BYTES
      if (!got.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES).equals(hashes.subarray(at, at + HASH_BYTES)))
        throw vmmpError.corrupt(`block ${first + i} of ${name} does not match the origin's manifest`)
    }
  }

  private started(): Worker {
    if (this.worker) return this.worker
    const worker = new Worker(new URL('./hash-worker.mjs', import.meta.url))
    worker.unref() // an idle hasher keeps no process alive
    worker.on('message', ({ id, hashes }: { id: number; hashes: Uint8Array }) => {
      const job = this.jobs.get(id)
      this.jobs.delete(id)
      if (!this.jobs.size) worker.unref()
      job?.resolve(Buffer.from(hashes.buffer, hashes.byteOffset, hashes.length))
    })
    const lost = (why: string) => {
      if (this.worker !== worker) return
      this.worker = null // the next hash starts another
      const err = vmmpError.io('hashing blocks', why)
      for (const job of this.jobs.values()) job.reject(err)
      this.jobs.clear()
    }
    worker.on('error', (err) => lost(err.message))
    worker.on('exit', (code) => lost(`the hashing thread exited (${code})`))
    this.worker = worker
    return worker
  }
}

/** One per process: pulls share it. */
export const blockHasher = new BlockHasher()
