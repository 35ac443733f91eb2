// QUERY every candidate destination at once, as the report's migrate.pl does (list the destinations,
// then QUERY each for its methods), and keep the answers for a while so that the `migrate` which
// follows sends no QUERY of its own: a destination answers from its method registry, which only
// changes when its node restarts (an answer counts only while the channel it came on is open). A stale
// answer cannot start a wrong transfer: prepare-dest checks the method again (VMMP_UNKNOWN_METHOD).
import type { Market } from '../market/market.ts'
import type { Offer } from '../market/search.ts'
import type { Identity } from '../market/types.ts'
import { errorInfo } from '../errors.ts'

/** How long a destination's QUERY answer is reused. */
export const QUERY_TTL_MS = 60_000
/** A destination that does not answer within this is listed without methods (it may be busy or gone). */
export const DESTINATIONS_QUERY_MS = 3000

export type Query = (nodeKey: string, vmId: string, timeoutMs?: number) => Promise<string[]>

export class QueryCache {
  private answers = new Map<string, { methods: string[]; at: number; channel: unknown }>()

  /** `channel` names the node's open vmmp@1 channel (null: none): an answer is kept per channel. */
  constructor(
    private query: Query,
    private channel: (nodeKey: string) => unknown,
    private ttlMs = QUERY_TTL_MS,
  ) {}

  /** The destination's methods, from a recent answer on its current channel or a QUERY now. */
  async methods(nodeKey: string, vmId: string, timeoutMs?: number): Promise<string[]> {
    const hit = this.answers.get(nodeKey)
    const channel = this.channel(nodeKey)
    if (hit && channel && hit.channel === channel && Date.now() - hit.at < this.ttlMs) return hit.methods
    const methods = await this.query(nodeKey, vmId, timeoutMs)
    this.answers.set(nodeKey, { methods, at: Date.now(), channel })
    return methods
  }
}

export interface Destination extends Offer {
  /** What the destination answered to QUERY, in its order of preference; empty when it did not answer. */
  methods: string[]
  error: { code: string; message: string } | null
}

/** Where `vmId` may go (search's offers) with each destination's methods, all QUERYed in parallel. */
export async function queryDestinations(
  market: Market,
  cache: QueryCache,
  who: Identity | null,
  vmId: string,
): Promise<Destination[]> {
  const offers = market.search(who, { vmId })
  return Promise.all(
    offers.map(async (o): Promise<Destination> => {
      try {
        const nodeKey = market.pmNodeKey(o.pmId)
        return { ...o, methods: await cache.methods(nodeKey, vmId, DESTINATIONS_QUERY_MS), error: null }
      } catch (err) {
        return { ...o, methods: [], error: errorInfo(err) }
      }
    }),
  )
}
