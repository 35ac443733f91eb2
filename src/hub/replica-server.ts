// replica@1, hub side: a subscriber says which change it has seen last; the hub sends every later
// change it may see (filtered by who it is), then keeps pushing new ones as they commit.
// A subscriber that has seen nothing, or is too far behind, gets a snapshot of what it may see first;
// one that asks for changes from 'now' on gets none.
//
// Backpressure (issue 11, item 5): a subscriber whose connection stops reading is not fed into an
// ever-growing send buffer. When a send finds the buffer full, the hub stops sending to it and
// remembers the last change it covered; on drain it catches up from the change log (or, when that
// fell too far behind, with a fresh snapshot), so its memory cost is bounded by the log, not by it.
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
  /** The seq of the last change this subscriber is up to date with (sent, or not for its eyes). */
  covered: number
  /** The send buffer was full: skip live changes, catch up from the log on drain. */
  behind: boolean
  catchingUp: boolean
}

export class ReplicaServer {
  private subs = new Map<RpcChannel, Subscriber>()
  private unlisten: () => void
  /** Times a subscriber was paused for a full send buffer: the flood benchmark reports it. */
  paused = 0

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

  /** The channel's connection can take more: a paused subscriber catches up. */
  drained(channel: RpcChannel): void {
    const sub = this.subs.get(channel)
    if (sub?.behind) void this.catchUp(sub)
  }

  async handle(
    channel: RpcChannel,
    method: string,
    params: unknown,
    who: Identity | null,
    token = '',
  ): Promise<unknown> {
    if (method !== 'subscribe') throw nodeError.unknownMethod(method)
    const asked = (params as any)?.since
    // 'now': no snapshot, only what commits from here on. A snapshot carries every event and ledger
    // entry the user may see, read from disk, and `virtuoso migrate` paid for it on every call.
    const since = asked === 'now' ? this.market.seq : typeof asked === 'number' ? asked : -1
    // A new subscribe on the same channel (an account switch) replaces the old one.
    const sub: Subscriber = {
      channel,
      who,
      token: who ? token : '',
      ready: false,
      queue: [],
      covered: -1,
      behind: false,
      catchingUp: false,
    }
    this.subs.set(channel, sub)
    // Changes that commit while the backlog is read are queued, then sent after it, in order.
    const backlog = since >= 0 ? await this.market.changesSince(since) : null
    let last: number
    if (backlog) {
      this.send(channel, 'changes', this.visible(backlog, who))
      last = backlog.length ? backlog[backlog.length - 1].seq : since
    } else {
      const snap = await this.market.snapshot(who)
      this.send(channel, 'snapshot', snap.rows)
      last = snap.seq
    }
    sub.ready = true
    const queued = sub.queue.filter((c) => c.seq > last)
    if (queued.length) this.send(channel, 'changes', queued)
    sub.queue = []
    sub.covered = Math.max(last, ...queued.map((c) => c.seq))
    return { seq: sub.covered, snapshot: !backlog }
  }

  private visible(changes: Change[], who: Identity | null): Change[] {
    const mine: Change[] = []
    for (const c of changes) {
      const v = this.market.viewFor(c, who)
      if (v) mine.push(v)
    }
    return mine
  }

  /** In frames of CHANGES_PER_FRAME, halved while a frame is over the body limit. */
  private send(channel: RpcChannel, kind: 'snapshot' | 'changes', rows: Change[], per = CHANGES_PER_FRAME): void {
    for (let i = 0; i < rows.length && !channel.closed; i += per) {
      const part = rows.slice(i, i + per)
      if (!channel.event(kind, part) && !channel.closed && part.length > 1)
        this.send(channel, kind, part, Math.ceil(part.length / 2))
    }
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
      if (!sub.ready) {
        const v = this.market.viewFor(c, sub.who)
        if (v) sub.queue.push(v)
        continue
      }
      if (sub.behind) continue
      if (!sub.channel.drained) {
        sub.behind = true
        this.paused++
        continue
      }
      const v = this.market.viewFor(c, sub.who)
      if (v) sub.channel.event('changes', [v])
      sub.covered = c.seq
    }
  }

  private async catchUp(sub: Subscriber): Promise<void> {
    if (sub.catchingUp) return
    sub.catchingUp = true
    try {
      // Until nothing committed is left unsent, or the buffer fills again (then the next drain resumes).
      while (this.subs.get(sub.channel) === sub && sub.channel.drained && !sub.channel.closed) {
        if (sub.token && !this.live(sub.token)) {
          this.subs.delete(sub.channel)
          sub.channel.event('ended', { code: 'MARKET_AUTH_REQUIRED' })
          return
        }
        const head = this.market.db.seq('changes')
        if (head <= sub.covered) {
          sub.behind = false
          return
        }
        const backlog = await this.market.changesSince(sub.covered)
        if (backlog) {
          this.send(sub.channel, 'changes', this.visible(backlog, sub.who))
          sub.covered = backlog.length ? backlog[backlog.length - 1].seq : head
        } else {
          const snap = await this.market.snapshot(sub.who)
          this.send(sub.channel, 'snapshot', snap.rows)
          sub.covered = snap.seq
        }
      }
    } finally {
      sub.catchingUp = false
    }
  }
}
