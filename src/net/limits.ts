// Limits a server puts on what one peer may make it do (issue 11, item 5): token buckets per key
// (a peer's public key, an account name) and a gate on how many expensive jobs run at once. Both
// keep bounded memory: a bucket table past its size drops the entry touched longest ago, which is
// as good as full again only for a key idle that long.
import { NetError, NET_BUSY, NET_RATE_LIMITED } from './errors.ts'

/** `burst` tries at once, then one more every `everyMs`. */
export interface Rate {
  burst: number
  everyMs: number
}

export const DEFAULT_MAX_BUCKETS = 10_000

export const limitError = {
  rate: (what: string, retryMs: number) =>
    new NetError(NET_RATE_LIMITED, `too many ${what}; try again in ${Math.max(1, Math.ceil(retryMs / 1000))} s`),
  busy: (what: string) =>
    new NetError(NET_BUSY, `the server is busy with ${what} right now; try again in a few seconds`),
}

export class RateLimiter {
  private buckets = new Map<string, { tokens: number; at: number }>()

  constructor(
    readonly rate: Rate,
    private opts: { clock?: () => number; maxBuckets?: number } = {},
  ) {}

  get size(): number {
    return this.buckets.size
  }

  /** Take one token for `key`: 0 when granted, else how many ms until one is back. */
  take(key: string): number {
    const now = this.opts.clock?.() ?? Date.now()
    const { burst, everyMs } = this.rate
    const b = this.buckets.get(key)
    const tokens = b ? Math.min(burst, b.tokens + (now - b.at) / everyMs) : burst
    this.buckets.delete(key)
    if (tokens < 1) {
      this.buckets.set(key, { tokens, at: now })
      return Math.ceil((1 - tokens) * everyMs)
    }
    this.buckets.set(key, { tokens: tokens - 1, at: now })
    if (this.buckets.size > (this.opts.maxBuckets ?? DEFAULT_MAX_BUCKETS))
      this.buckets.delete(this.buckets.keys().next().value!)
    return 0
  }
}

/** At most `running` jobs at once and `queued` waiting; past that a job is refused, not queued. */
export class Gate {
  private active = 0
  private waiting: Array<() => void> = []

  constructor(
    private running: number,
    private queued: number,
    private what: string,
  ) {}

  get load(): { active: number; waiting: number } {
    return { active: this.active, waiting: this.waiting.length }
  }

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.active >= this.running) {
      if (this.waiting.length >= this.queued) throw limitError.busy(this.what)
      await new Promise<void>((resolve) => this.waiting.push(resolve))
    } else this.active++
    try {
      return await job()
    } finally {
      const next = this.waiting.shift()
      if (next) next()
      else this.active--
    }
  }
}
