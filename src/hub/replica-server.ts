// replica@1, hub side: a subscriber says which change it has seen last; the hub sends every later
// change it may see (filtered by who it is), then keeps pushing new ones as they commit.
// A subscriber that has seen nothing, or is too far behind, gets a snapshot of what it may see first.
import type { Market } from '../market/market.ts'
import type { Change, Identity } from '../market/types.ts'
import type { RpcChannel } from '../net/rpc.ts'
import { nodeError } from '../net/errors.ts'

/** Changes sent per event frame: keeps frames well under the RPC body limit. */
export const CHANGES_PER_FRAME = 500

interface Subscriber {
  channel: RpcChannel
  who: Identity | null
  /** The session it subscribed with ('' = none): once it ends (logout, expiry), so does the feed. */
  token: string
  ready: boolean
  queue: Change[]
}

export class ReplicaServer {
  private subs = new Map<RpcChannel, Subscriber>()
  private unlisten: () => void

  constructor(private market: Market) {
    const onChange = (c: Change) => this.onChange(c)
    market.on('change', onChange)
    this.unlisten = () => market.off('change', onChange)
  }

  close(): void {
    this.unlisten()
    this.subs.clear()
  }

  drop(channel: RpcChannel): void {
    this.subs.delete(channel)
  }

  async handle(
    channel: RpcChannel,
    method: string,
    params: unknown,
    who: Identity | null,
    token = '',
  ): Promise<unknown> {
    if (method !== 'subscribe') throw nodeError.unknownMethod(method)
    const since = typeof (params as any)?.since === 'number' ? (params as any).since : -1
    // A new subscribe on the same channel (an account switch) replaces the old one.
    const sub: Subscriber = { channel, who, token: who ? token : '', ready: false, queue: [] }
    this.subs.set(channel, sub)
    // Changes that commit while the backlog is read are queued, then sent after it, in order.
    const backlog = since >= 0 ? await this.market.changesSince(since) : null
    let last: number
    if (backlog) {
      const mine: Change[] = []
      for (const c of backlog) {
        const v = this.market.viewFor(c, who)
        if (v) mine.push(v)
      }
      for (let i = 0; i < mine.length; i += CHANGES_PER_FRAME)
        channel.event('changes', mine.slice(i, i + CHANGES_PER_FRAME))
      last = backlog.length ? backlog[backlog.length - 1].seq : since
    } else {
      const snap = await this.market.snapshot(who)
      for (let i = 0; i < snap.rows.length; i += CHANGES_PER_FRAME)
        channel.event('snapshot', snap.rows.slice(i, i + CHANGES_PER_FRAME))
      last = snap.seq
    }
    sub.ready = true
    const queued = sub.queue.filter((c) => c.seq > last)
    if (queued.length) channel.event('changes', queued)
    sub.queue = []
    return { seq: Math.max(last, ...queued.map((c) => c.seq)), snapshot: !backlog }
  }

  private live(token: string): boolean {
    try {
      this.market.authenticate(token)
      return true
    } catch {
      return false
    }
  }

  private onChange(c: Change): void {
    for (const sub of [...this.subs.values()]) {
      if (sub.token && !this.live(sub.token)) {
        // Its rows belong to a session that has ended: nothing more goes out on it.
        this.subs.delete(sub.channel)
        sub.channel.event('ended', { code: 'MARKET_AUTH_REQUIRED' })
        continue
      }
      const v = this.market.viewFor(c, sub.who)
      if (!v) continue
      if (sub.ready) sub.channel.event('changes', [v])
      else sub.queue.push(v)
    }
  }
}
