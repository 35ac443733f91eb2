// Stall detection: a transfer that sees no bytes and no heartbeat for `stallMs` is dead even if its
// connection looks open (half-open hyperswarm links stay silent for ~1 min before anyone notices).
import { vmmpError, type VmmpError } from './errors.ts'

export const DEFAULT_STALL_MS = 10_000

export class StallWatch {
  private last = Date.now()
  private timer: NodeJS.Timeout
  private fired = false

  /** Calls `onStall` once if `touch()` is not called for `stallMs`; checks at a quarter of that. */
  constructor(
    readonly stallMs: number,
    private onStall: (err: VmmpError) => void,
  ) {
    this.timer = setInterval(() => this.check(), Math.max(10, Math.floor(stallMs / 4)))
    this.timer.unref?.()
  }

  touch(): void {
    this.last = Date.now()
  }

  private check(): void {
    if (this.fired || Date.now() - this.last < this.stallMs) return
    this.fired = true
    this.stop()
    this.onStall(vmmpError.stalled(this.stallMs))
  }

  stop(): void {
    clearInterval(this.timer)
  }
}

/** Reject with VMMP_ABORTED when the signal fires; returns a disposer. */
export function onAbort(signal: AbortSignal | undefined, fn: (err: VmmpError) => void): () => void {
  if (!signal) return () => {}
  const h = () => fn(vmmpError.aborted())
  if (signal.aborted) {
    queueMicrotask(h)
    return () => {}
  }
  signal.addEventListener('abort', h, { once: true })
  return () => signal.removeEventListener('abort', h)
}
