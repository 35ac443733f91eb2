// What slows a password guesser on the provider's SSH server, with bounded memory. Failures are
// counted per user name AND per client address, in separate tables: spraying many user names from
// one address raises that address's wait, and a full table pushes out one entry at a time: the
// oldest that failed only once (what a spray of names leaves), else the oldest. No flood resets the
// counter of a user actually attacked (the old table was cleared whole at 10,000 names).
export const DEFAULT_MAX_FAILURE_KEYS = 10_000
/** How far from the oldest end a full table looks for a single failure to drop. */
const EVICT_SCAN = 64

interface Entry {
  count: number
  last: number
}

export class FailureCounts {
  private m = new Map<string, Entry>()

  constructor(
    /** Failures are forgiven after this long without another one. */
    private memoryMs: number,
    private maxKeys = DEFAULT_MAX_FAILURE_KEYS,
  ) {}

  get size(): number {
    return this.m.size
  }

  /** Failures of `key` still remembered at `now`. */
  count(key: string, now: number): number {
    const e = this.m.get(key)
    return e && now - e.last < this.memoryMs ? e.count : 0
  }

  /** One more failure; returns the count. The map stays in order of last failure (oldest first). */
  fail(key: string, now: number): number {
    const count = this.count(key, now) + 1
    this.m.delete(key)
    this.m.set(key, { count, last: now })
    if (this.m.size > this.maxKeys) this.evictOne()
    return count
  }

  private evictOne(): void {
    let oldest: string | null = null
    let seen = 0
    for (const [k, e] of this.m) {
      oldest ??= k
      if (e.count === 1) return void this.m.delete(k)
      if (++seen >= EVICT_SCAN) break
    }
    if (oldest !== null) this.m.delete(oldest)
  }

  clear(key: string): void {
    this.m.delete(key)
  }
}

/** Exponential wait: `base` after the first failure, doubling, at most `max`. */
export function failDelay(count: number, base: number, max: number): number {
  return count <= 0 ? 0 : Math.min(base * 2 ** Math.min(count - 1, 30), max)
}

/** Failed passwords per user name (a machine id) and per client address: the SSH console and the
 *  VNC screen share one pair, so a guesser gains nothing by switching between them. */
export interface FailureTables {
  users: FailureCounts
  addresses: FailureCounts
}

export function failureTables(memoryMs: number, maxKeys?: number): FailureTables {
  return { users: new FailureCounts(memoryMs, maxKeys), addresses: new FailureCounts(memoryMs, maxKeys) }
}

/** Count a wrong password for `user` and for `address`, then wait what the worse of the two earned. */
export async function afterFailure(
  t: FailureTables,
  user: string,
  address: string,
  delay: { baseMs: number; maxMs: number },
): Promise<void> {
  const now = Date.now()
  const count = Math.max(t.users.fail(user, now), t.addresses.fail(address, now))
  const wait = failDelay(count, delay.baseMs, delay.maxMs)
  if (wait > 0) await new Promise((r) => setTimeout(r, wait))
}
