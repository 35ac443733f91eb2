// An in-memory stream pair for protomux whose reading end a test can stop (UDX on loopback drains into
// the reader's memory whether it reads or not): replica@1 tests run the real RpcChannel over it.
import { Duplex } from 'streamx'

/** One end of an in-memory pipe: a write completes only once the other end has room to take it. */
export class End extends Duplex {
  other!: End
  private pending: (() => void) | null = null
  override _write(data: unknown, cb: (err: Error | null) => void): void {
    if (this.other.push(data)) cb(null)
    else this.other.pending = () => cb(null)
  }
  override _read(cb: (err: Error | null) => void): void {
    const p = this.pending
    this.pending = null
    p?.()
    cb(null)
  }
  /** Bytes written here that the other end has not taken yet (streamx's own count). */
  get buffered(): number {
    return (this as unknown as { _writableState: { buffered: number } })._writableState.buffered
  }
}
export function pipePair(): [End, End] {
  const a = new End()
  const b = new End()
  a.other = b
  b.other = a
  return [a, b]
}
