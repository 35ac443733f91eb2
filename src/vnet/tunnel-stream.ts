// One TCP stream carried in tunnel@1, the same at both ends: bytes read from the local side go out as
// DATA while fewer than WINDOW bytes are unacknowledged; bytes that arrive are written to the local
// side and acknowledged once written. So a slow reader stalls only its own stream, never the
// connection's other streams (protomux has no per-channel flow control of its own).
import type { Readable, Writable } from 'node:stream'
import { ACK, CLOSE, DATA, END, MAX_DATA, data, encode, encodeJson, encodeU, type Outgoing } from './tunnel-wire.ts'

export const WINDOW = 4 * 1024 * 1024
/** Acknowledge in steps of this many written bytes (fewer ACK messages). */
const ACK_STEP = WINDOW / 4

export interface StreamEnd {
  code: string
  message: string
}

export class TunnelStream {
  private inflight = 0
  private written = 0
  private localEnded = false
  private remoteEnded = false
  private gone = false
  private muxBlocked = false
  private markDone!: (end: StreamEnd | null) => void
  /** Resolves when the stream is over: null for a clean end, else why it was cut. */
  readonly done = new Promise<StreamEnd | null>((r) => (this.markDone = r))
  /** Bytes each way (benchmarks, counters). */
  bytesIn = 0
  bytesOut = 0

  constructor(
    readonly id: number,
    private input: Readable,
    private output: Writable,
    /** Sends a message on the channel; false = the connection's buffer is full, wait for drain(). */
    private send: (m: Outgoing) => boolean,
    private onGone: (s: TunnelStream) => void,
  ) {
    input.on('data', (chunk: Buffer) => this.read(chunk))
    // A readable that closes without 'end' (destroyed) ends our direction all the same.
    input.once('end', () => this.localEnd())
    input.once('close', () => this.localEnd())
    input.on('error', () => {})
    output.on('error', () => {})
    // The local side gone before the other end finished sending: nobody reads, so cut the stream.
    output.once('close', () => (this.remoteEnded ? this.maybeDone() : this.cut(null)))
  }

  private localEnd(): void {
    if (this.localEnded || this.gone) return
    this.localEnded = true
    this.send(encode(END, this.id))
    this.maybeDone()
  }

  private read(chunk: Buffer): void {
    if (this.gone) return
    for (let i = 0; i < chunk.length; i += MAX_DATA) {
      const part = chunk.subarray(i, i + MAX_DATA)
      this.inflight += part.length
      this.bytesOut += part.length
      if (!this.send(data(this.id, part))) this.muxBlocked = true
    }
    if (this.muxBlocked || this.inflight >= WINDOW) this.input.pause()
  }

  /** The connection drained: go on reading unless the window is shut. */
  drain(): void {
    this.muxBlocked = false
    if (!this.gone && this.inflight < WINDOW) this.input.resume()
  }

  /** A message for this stream from the other end. */
  onMessage(type: number, payload: Buffer): void {
    if (this.gone) return
    if (type === DATA) {
      this.bytesIn += payload.length
      this.output.write(payload, () => {
        this.written += payload.length
        if (this.written >= ACK_STEP && !this.gone) {
          this.send(encodeU(ACK, this.id, this.written, 4))
          this.written = 0
        }
      })
    } else if (type === ACK) {
      this.inflight = Math.max(0, this.inflight - payload.readUInt32BE(0))
      if (!this.muxBlocked && this.inflight < WINDOW) this.input.resume()
    } else if (type === END) {
      this.remoteEnded = true
      this.output.end()
      this.maybeDone()
    } else if (type === CLOSE) {
      let end: StreamEnd | null
      try {
        end = payload.length ? JSON.parse(payload.toString('utf8')) : null
      } catch {
        end = null
      }
      this.finish(end, false)
    }
  }

  private maybeDone(): void {
    if (this.localEnded && this.remoteEnded) this.cut(null)
  }

  /** Ends the stream here and tells the other end (`why` = an error to report there). */
  cut(why: StreamEnd | null): void {
    this.finish(why, true)
  }

  private finish(why: StreamEnd | null, tell: boolean): void {
    if (this.gone) return
    this.gone = true
    if (tell) this.send(why ? encodeJson(CLOSE, this.id, why) : encode(CLOSE, this.id))
    // A clean end lets written bytes flush; an error drops them.
    if (why) this.output.destroy()
    else this.output.end()
    if ((this.input as unknown) !== this.output) this.input.destroy()
    this.onGone(this)
    this.markDone(why)
  }
}
