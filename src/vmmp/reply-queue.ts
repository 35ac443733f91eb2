// Backpressure for a request/response server (blocks@1's origin, issue 11 item 5): requests are
// served a few at a time, and none is started while the connection's send buffer is full (a send
// returned false) until it drains. A peer that asks without reading its answers thus makes us hold
// at most `concurrency` answers beyond the buffer, and its waiting requests (small) up to `maxQueued`;
// past that a request is refused at once.

export const DEFAULT_CONCURRENCY = 8
export const DEFAULT_MAX_QUEUED = 1024

export class ReplyQueue<T> {
  private waiting: T[] = []
  private running = 0
  private full = false

  constructor(
    private serve: (req: T) => Promise<void>,
    private refuse: (req: T) => void,
    private opts: { concurrency?: number; maxQueued?: number } = {},
  ) {}

  /** Requests waiting for room (what a slow reader costs us besides the buffer). */
  get queued(): number {
    return this.waiting.length
  }

  push(req: T): void {
    if (this.waiting.length >= (this.opts.maxQueued ?? DEFAULT_MAX_QUEUED)) return this.refuse(req)
    this.waiting.push(req)
    this.pump()
  }

  /** Call with the result of each send: false means the buffer is full. */
  sent(ok: boolean): void {
    if (!ok) this.full = true
  }

  /** The connection drained: serve what waits. */
  drained(): void {
    this.full = false
    this.pump()
  }

  private pump(): void {
    while (!this.full && this.running < (this.opts.concurrency ?? DEFAULT_CONCURRENCY) && this.waiting.length) {
      const req = this.waiting.shift()!
      this.running++
      void this.serve(req).finally(() => {
        this.running--
        this.pump()
      })
    }
  }
}
