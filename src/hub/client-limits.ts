// What one client may make the hub do (issue 11, item 5). login, signup and pm.add are limited per
// peer (the Noise key the connection proved) and per account (the name a login or signup names, the
// provider a pm.add is for), so neither many accounts from one key nor many keys against one account
// get far. Every login and signup costs a scrypt (128 MiB, 0.6-2.4 s on the thread pool the
// database also uses): at most a few run at once, a short queue waits, the rest are refused.
import { Gate, RateLimiter, limitError, type Rate } from '../net/limits.ts'
import { NET_BUSY } from '../net/errors.ts'

export type LimitedMethod = 'login' | 'signup' | 'pm.add'

export interface ClientLimitOptions {
  rates?: Partial<Record<LimitedMethod, { peer: Rate; account: Rate }>>
  /** Password hashes (login, signup) running at once, and waiting. */
  passwordJobs?: number
  passwordQueue?: number
  /** Requests one connection may have in flight on market@1. */
  maxInFlight?: number
  clock?: () => number
}

export const DEFAULT_RATES: Record<LimitedMethod, { peer: Rate; account: Rate }> = {
  login: { peer: { burst: 10, everyMs: 2_000 }, account: { burst: 10, everyMs: 6_000 } },
  signup: { peer: { burst: 10, everyMs: 10_000 }, account: { burst: 5, everyMs: 10_000 } },
  // Generous: a provider retries pm.add until its node's hello arrives (the demo: every 300 ms).
  'pm.add': { peer: { burst: 30, everyMs: 2_000 }, account: { burst: 30, everyMs: 2_000 } },
}
export const DEFAULT_PASSWORD_JOBS = 2
export const DEFAULT_PASSWORD_QUEUE = 16
export const DEFAULT_CLIENT_IN_FLIGHT = 32

const LIMITED = new Set<string>(Object.keys(DEFAULT_RATES))

export class ClientLimits {
  private limiters = new Map<string, { peer: RateLimiter; account: RateLimiter }>()
  readonly passwords: Gate
  readonly maxInFlight: number
  /** Refusals so far, by reason: what the flood benchmark reports. */
  readonly refused = { rate: 0, busy: 0 }

  constructor(opts: ClientLimitOptions = {}) {
    for (const m of LIMITED) {
      const r = opts.rates?.[m as LimitedMethod] ?? DEFAULT_RATES[m as LimitedMethod]
      this.limiters.set(m, {
        peer: new RateLimiter(r.peer, { clock: opts.clock }),
        account: new RateLimiter(r.account, { clock: opts.clock }),
      })
    }
    this.passwords = new Gate(
      opts.passwordJobs ?? DEFAULT_PASSWORD_JOBS,
      opts.passwordQueue ?? DEFAULT_PASSWORD_QUEUE,
      'password checks',
    )
    this.maxInFlight = opts.maxInFlight ?? DEFAULT_CLIENT_IN_FLIGHT
  }

  /** Throws NODE_RATE_LIMITED when this peer or this account has used up its tries for `method`. */
  check(method: string, peer: string, account: unknown): void {
    const l = this.limiters.get(method)
    if (!l) return
    let wait = l.peer.take(peer)
    if (wait === 0 && typeof account === 'string' && account.length > 0) wait = l.account.take(account.slice(0, 64))
    if (wait > 0) {
      this.refused.rate++
      throw limitError.rate(`${method} attempts`, wait)
    }
  }

  /** Run a password hash through the gate (NODE_BUSY when it is full). */
  async hashing<T>(job: () => Promise<T>): Promise<T> {
    try {
      return await this.passwords.run(job)
    } catch (err) {
      if ((err as { code?: string }).code === NET_BUSY) this.refused.busy++
      throw err
    }
  }
}
