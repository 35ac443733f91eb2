// blocks@1: the RSYNC method's transfer protocol, one protomux channel per migration (channel id =
// the migration id) on the two providers' HyperDHT connection. The origin serves only the files of
// a machine that `authorize` names for that migration and that remote key; the destination asks for
// the manifest, then for the blocks it lacks, many requests in flight.
import type Protomux from 'protomux'
import type { Channel, Message } from 'protomux'
import { open, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { PROTOCOLS } from '../net/protocols.ts'
import { NetError, NET_FRAME_TOO_LARGE, nodeError } from '../net/errors.ts'
import { VmmpError, fsError, vmmpError, VMMP_IO, VMMP_PROTOCOL, type VmmpErrorCode } from './errors.ts'
import { BLOCK_SIZE, HASH_BYTES, blockCount, manifestFor, type MachineManifest } from './manifest.ts'
import { DEFAULT_STALL_MS, StallWatch } from './stall.ts'
import {
  FRAME_OVERHEAD,
  MAX_ERROR_BYTES,
  MAX_REQUEST_BYTES,
  MAX_RESPONSE_DATA,
  channelMessages,
  type Alive,
  type Req,
  type Res,
} from './blocks-wire.ts'
import { decodeSparse, encodeSparse } from './sparse-hashes.ts'
import { GroupReader } from './zgroups.ts'
import { ReplyQueue } from './reply-queue.ts'
import { limitError } from '../net/limits.ts'

export const OP_OPEN = 1
export const OP_HASHES = 2
export const OP_BLOCKS = 3
/** HASHES as a bitmap of non-zero blocks plus their hashes (sparse-hashes.ts); an older origin answers
 *  it 'unknown op' and the client asks for HASHES instead. */
export const OP_SPARSE_HASHES = 4
/** One group of 16 blocks, its non-zero blocks deflated (zgroups.ts); `start` is the group index. */
export const OP_ZGROUP = 5
/** 16 blocks = 1 MiB per response: large enough to amortize framing, small enough to interleave. */
export const MAX_BLOCKS_PER_REQUEST = 16
/** 8192 hashes = 256 KiB per HASHES response, well under the 16 MiB secretstream frame limit. */
export const MAX_HASHES_PER_REQUEST = 8192
/** 65,536 hashes: at most 2 MiB + 8 KiB of bitmap per answer (a 4 GiB file per request). */
export const MAX_SPARSE_HASHES_PER_REQUEST = 65536
export const DEFAULT_KEEPALIVE_MS = 2_000

export interface Authorization {
  vmId: string
  dir: string
  files: string[]
  version?: number | null
}
export type Authorize = (migrationId: string, remoteKey: Buffer) => Authorization | null | Promise<Authorization | null>

/** Authorized blocks@1 channels open on one connection (a peer that may move blocks, not an idler). */
export interface BlocksActivity {
  open: number
}

export interface BlocksServerOptions {
  authorize: Authorize
  activity?: BlocksActivity
  keepaliveMs?: number
  /** Test hook: mutate a block after it is read (to prove the destination rejects corruption). */
  mutateBlock?: (file: string, index: number, data: Buffer) => void
  /** Test hook: change a HASHES answer before it is sent (a source whose manifest lies). */
  mutateHashes?: (file: string, data: Buffer) => void
  /** Test hook: wait this long before answering each BLOCKS request (a slow link, for mid-copy faults). */
  delayMs?: number
  /** Test hook: answer only these ops, as a node from before the others does ('unknown op'). */
  ops?: number[]
}

/** An origin from before `op` answers it this way: the client falls back to the older ops. */
export const isUnknownOp = (err: unknown): boolean => err instanceof VmmpError && /unknown op/.test(err.message)

/** Origin side: answer blocks@1 channels the remote opens on this connection. Returns an unpair function. */
export function serveBlocks(mux: Protomux, opts: BlocksServerOptions): () => void {
  const remoteKey: Buffer = (mux.stream as any).remotePublicKey ?? Buffer.alloc(0)
  mux.pair({ protocol: PROTOCOLS.blocks }, (id) => {
    if (!id) return
    serveOne(mux, id, remoteKey, opts)
  })
  return () => mux.unpair({ protocol: PROTOCOLS.blocks })
}

function serveOne(mux: Protomux, id: Buffer, remoteKey: Buffer, opts: BlocksServerOptions): void {
  const migrationId = id.toString()
  let auth: Authorization | null = null
  let manifest: MachineManifest | null = null
  const handles = new Map<number, Promise<FileHandle>>()
  const groups = new Map<number, GroupReader>()
  /** BLOCKS read buffers, reused (at most reply-queue's concurrency): a fresh 1 MiB each fed major GCs. */
  const pool: Buffer[] = []
  let closed = false
  const ch = mux.createChannel({
    protocol: PROTOCOLS.blocks,
    id,
    ondrain: () => queue.drained(),
    onclose: async () => {
      closed = true
      if (auth && opts.activity) opts.activity.open--
      for (const h of handles.values()) h.then((fh) => fh.close()).catch(() => {})
      for (const g of groups.values()) g.close()
    },
  })
  if (!ch) return
  const m = channelMessages(ch)
  const reply = (r: Res) => {
    if (closed) return
    // Never sent over the limit the other side checks (blocks-wire.ts): said in words instead.
    if (r.data.length > MAX_RESPONSE_DATA || Buffer.byteLength(r.error) > MAX_ERROR_BYTES)
      return fail(r.id, nodeError.tooLarge(Math.max(r.data.length, Buffer.byteLength(r.error)), MAX_RESPONSE_DATA))
    queue.sent(m.res.send(r) !== false)
  }
  const fail = (rid: number, err: unknown) => {
    const code = err instanceof VmmpError || err instanceof NetError ? err.code : VMMP_IO
    const text = `${code} ${err instanceof Error ? err.message : String(err)}`.slice(0, MAX_ERROR_BYTES / 4)
    reply({ id: rid, error: text, data: Buffer.alloc(0) })
  }

  async function onOpen(r: Req): Promise<void> {
    if (auth) throw vmmpError.protocol('OPEN twice')
    const granted = await opts.authorize(migrationId, remoteKey)
    if (!granted) throw vmmpError.unauthorized(`blocks of migration ${migrationId}`)
    if (closed) return
    auth = granted
    const a = granted
    if (opts.activity) opts.activity.open++
    const total = a.files.length
    let done = 0
    // Hashing a large disk takes a while: tell the destination we are alive so it does not call a stall.
    const timer = setInterval(() => {
      if (!closed) m.alive.send({ done, total })
    }, opts.keepaliveMs ?? DEFAULT_KEEPALIVE_MS)
    try {
      manifest = await manifestFor(a.dir, a.files, a.version ?? null, {
        onProgress: () => {
          done++
        },
      })
    } finally {
      clearInterval(timer)
    }
    const files = manifest.files.map((f) => ({ name: f.name, size: f.size, root: f.root }))
    reply({
      id: r.id,
      error: '',
      data: Buffer.from(JSON.stringify({ vmId: a.vmId, version: a.version ?? null, files })),
    })
  }

  function fileOf(r: Req, max: number, ranged = true) {
    if (!manifest || !auth) throw vmmpError.protocol('request before OPEN')
    const f = manifest.files[r.file]
    if (!f) throw vmmpError.protocol(`no file #${r.file}`)
    if (ranged && (r.count < 1 || r.count > max || r.start + r.count > blockCount(f.size)))
      throw vmmpError.protocol('block range out of bounds')
    return f
  }

  function handle(r: Req, name: string): Promise<FileHandle> {
    let h = handles.get(r.file)
    if (!h) {
      h = open(join(auth!.dir, name), 'r')
      handles.set(r.file, h)
    }
    return h
  }

  async function onZGroup(r: Req): Promise<void> {
    const f = fileOf(r, MAX_BLOCKS_PER_REQUEST, false)
    if (opts.delayMs) await new Promise((resolve) => setTimeout(resolve, opts.delayMs))
    let g = groups.get(r.file)
    if (!g) {
      const mutate = opts.mutateBlock && ((i: number, b: Buffer) => opts.mutateBlock!(f.name, i, b))
      groups.set(r.file, (g = new GroupReader(auth!.dir, f, () => handle(r, f.name), mutate)))
    }
    reply({ id: r.id, error: '', data: await g.group(r.start) })
  }

  async function onBlocks(r: Req): Promise<void> {
    const f = fileOf(r, MAX_BLOCKS_PER_REQUEST)
    if (opts.delayMs) await new Promise((resolve) => setTimeout(resolve, opts.delayMs))
    const fh = await handle(r, f.name)
    const pos = r.start * BLOCK_SIZE
    const len = Math.min(r.count * BLOCK_SIZE, f.size - pos)
    // Pooled: protomux copies the answer into its frame in reply(), so the buffer is free right after.
    const own = pool.pop() ?? Buffer.allocUnsafeSlow(MAX_BLOCKS_PER_REQUEST * BLOCK_SIZE)
    const buf = own.subarray(0, len)
    let got = 0
    while (got < len) {
      const { bytesRead } = await fh.read(buf, got, len - got, pos + got)
      if (bytesRead === 0) throw vmmpError.io(`reading ${f.name}`, new Error('file shrank'))
      got += bytesRead
    }
    if (opts.mutateBlock)
      for (let i = 0; i < r.count; i++)
        opts.mutateBlock(f.name, r.start + i, buf.subarray(i * BLOCK_SIZE, Math.min(len, (i + 1) * BLOCK_SIZE)))
    reply({ id: r.id, error: '', data: buf })
    pool.push(own)
  }

  function onHashes(r: Req, sparse: boolean): void {
    const f = fileOf(r, sparse ? MAX_SPARSE_HASHES_PER_REQUEST : MAX_HASHES_PER_REQUEST)
    let data = f.hashes.subarray(r.start * HASH_BYTES, (r.start + r.count) * HASH_BYTES)
    if (opts.mutateHashes) opts.mutateHashes(f.name, (data = Buffer.from(data)))
    reply({ id: r.id, error: '', data: sparse ? encodeSparse(data, 0, r.count) : data })
  }

  const serve = (r: Req): Promise<void> => {
    if (r.tooLarge) return Promise.resolve(fail(r.id, nodeError.tooLarge(r.tooLarge, MAX_REQUEST_BYTES)))
    const run =
      opts.ops && !opts.ops.includes(r.op)
        ? Promise.reject(vmmpError.protocol(`unknown op ${r.op}`))
        : r.op === OP_OPEN
          ? onOpen(r)
          : r.op === OP_HASHES || r.op === OP_SPARSE_HASHES
            ? Promise.resolve().then(() => onHashes(r, r.op === OP_SPARSE_HASHES))
            : r.op === OP_BLOCKS
              ? onBlocks(r)
              : r.op === OP_ZGROUP
                ? onZGroup(r)
                : Promise.reject(vmmpError.protocol(`unknown op ${r.op}`))
    return run.catch((err) => fail(r.id, err instanceof VmmpError ? err : fsError('serving', migrationId, err)))
  }
  // Backpressure: a destination that stops reading its answers stops being served (reply-queue.ts).
  const queue: ReplyQueue<Req> = new ReplyQueue(serve, (r) => fail(r.id, limitError.busy('block requests')))
  m.req.onmessage = (r) => queue.push(r)
  ch.open()
}

export interface RemoteFile {
  name: string
  size: number
  root: string
}

export interface BlocksClientOptions {
  stallMs?: number
  signal?: AbortSignal
  /** Seen on every response and keepalive: stall detection and progress hang off it. */
  onActivity?: () => void
}

/** Destination side of one migration's blocks@1 channel: a promise per request, many in flight. */
export class BlocksClient {
  private ch: Channel
  private msgs: { req: Message<Req>; res: Message<Res>; alive: Message<Alive> }
  private pending = new Map<number, { resolve: (b: Buffer) => void; reject: (e: unknown) => void }>()
  private nextId = 1
  private watch: StallWatch
  private failure: VmmpError | null = null
  private abortOff: () => void = () => {}
  private sparse = true
  /** False once the origin answered OP_ZGROUP with 'unknown op' (a node from before it). */
  zgroups = true
  /** Payload plus framing of every message either way, for the bytes-on-wire figure. */
  bytesOnWire = 0
  vmId = ''
  version: number | null = null
  files: RemoteFile[] = []

  private constructor(
    mux: Protomux,
    readonly migrationId: string,
    private opts: BlocksClientOptions,
  ) {
    this.watch = new StallWatch(opts.stallMs ?? DEFAULT_STALL_MS, (err) => this.fail(err))
    const ch = mux.createChannel({
      protocol: PROTOCOLS.blocks,
      id: Buffer.from(migrationId),
      onclose: () => this.fail(vmmpError.closed('the block transfer')),
    })
    if (!ch)
      throw vmmpError.protocol(`a blocks@1 channel for migration ${migrationId} is already open on this connection`)
    this.ch = ch
    this.msgs = channelMessages(ch)
    this.msgs.res.onmessage = (r) => this.onResponse(r)
    this.msgs.alive.onmessage = () => {
      this.watch.touch()
      this.opts.onActivity?.()
    }
    if (opts.signal) {
      const h = () => this.fail(vmmpError.aborted())
      opts.signal.addEventListener('abort', h, { once: true })
      this.abortOff = () => opts.signal!.removeEventListener('abort', h)
    }
    ch.open()
  }

  /** Open the channel and the migration: the origin authorizes and answers its file list. */
  static async open(mux: Protomux, migrationId: string, opts: BlocksClientOptions = {}): Promise<BlocksClient> {
    const client = new BlocksClient(mux, migrationId, opts)
    if (opts.signal?.aborted) client.fail(vmmpError.aborted())
    try {
      const info = JSON.parse((await client.request(OP_OPEN, 0, 0, 0)).toString())
      client.vmId = String(info.vmId)
      client.version = info.version ?? null
      client.files = info.files
      return client
    } catch (err) {
      client.close()
      throw err
    }
  }

  /** The origin's block hashes of one file (HASH_BYTES each, ZERO_HASH for zero blocks). */
  async hashes(file: number): Promise<Buffer> {
    const n = blockCount(this.files[file].size)
    const parts: Promise<Buffer>[] = []
    if (this.sparse) {
      for (let s = 0; s < n; s += MAX_SPARSE_HASHES_PER_REQUEST) {
        const count = Math.min(MAX_SPARSE_HASHES_PER_REQUEST, n - s)
        parts.push(this.request(OP_SPARSE_HASHES, file, s, count).then((d) => decodeSparse(d, count)))
      }
      try {
        return this.checkHashes(Buffer.concat(await Promise.all(parts)), n)
      } catch (err) {
        if (!isUnknownOp(err)) throw err
        this.sparse = false // an origin from before SPARSE_HASHES
        parts.length = 0
      }
    }
    for (let s = 0; s < n; s += MAX_HASHES_PER_REQUEST)
      parts.push(this.request(OP_HASHES, file, s, Math.min(MAX_HASHES_PER_REQUEST, n - s)))
    return this.checkHashes(Buffer.concat(await Promise.all(parts)), n)
  }

  private checkHashes(out: Buffer, n: number): Buffer {
    if (out.length !== n * HASH_BYTES) throw vmmpError.protocol('short hash list')
    return out
  }

  /** `count` consecutive blocks of a file, starting at block `start` (unverified: the caller checks hashes). */
  async blocks(file: number, start: number, count: number): Promise<Buffer> {
    const f = this.files[file]
    const data = await this.request(OP_BLOCKS, file, start, count)
    const want = Math.min(count * BLOCK_SIZE, f.size - start * BLOCK_SIZE)
    if (data.length !== want) throw vmmpError.protocol(`got ${data.length} bytes for ${want}`)
    return data
  }

  /** Group g of a file, deflated (zgroups.ts; unverified: the caller inflates and checks hashes). */
  zgroup(file: number, g: number): Promise<Buffer> {
    return this.request(OP_ZGROUP, file, g, 1)
  }

  /** Local work in progress (e.g. hashing our old copy): not a stall. */
  touch(): void {
    this.watch.touch()
  }

  close(): void {
    this.watch.stop()
    this.abortOff()
    if (!this.ch.closed) this.ch.close()
  }

  private request(op: number, file: number, start: number, count: number): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure)
    const id = this.nextId++
    this.bytesOnWire += FRAME_OVERHEAD
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.msgs.req.send({ id, op, file, start, count })
    })
  }

  private onResponse(r: Res): void {
    this.watch.touch()
    this.bytesOnWire += r.data.length + FRAME_OVERHEAD
    this.opts.onActivity?.()
    const p = this.pending.get(r.id)
    if (!p) return
    this.pending.delete(r.id)
    if (r.tooLarge) return p.reject(nodeError.tooLarge(r.tooLarge, MAX_RESPONSE_DATA))
    if (!r.error) return p.resolve(r.data)
    const sp = r.error.indexOf(' ')
    const code = r.error.slice(0, sp)
    if (code === NET_FRAME_TOO_LARGE) return p.reject(new NetError(code, `origin: ${r.error.slice(sp + 1)}`))
    p.reject(
      new VmmpError(
        /^VMMP_[A-Z_]+$/.test(code) ? (code as VmmpErrorCode) : VMMP_PROTOCOL,
        `origin: ${r.error.slice(sp + 1)}`,
      ),
    )
  }

  /** First failure wins: every pending request rejects with it and the channel closes. */
  private fail(err: VmmpError): void {
    if (this.failure) return
    this.failure = err
    for (const p of this.pending.values()) p.reject(err)
    this.pending.clear()
    this.close()
  }

  get error(): VmmpError | null {
    return this.failure
  }
}
