// A market client (CLI, TUI): one encrypted connection to the hub named by the market key, with
// market@1 for calls and replica@1 for the live change feed.
import type DHT from 'hyperdht'
import type { NoiseSocket } from 'hyperdht'
import { RpcChannel } from '../net/rpc.ts'
import { PROTOCOLS } from '../net/protocols.ts'
import { dial } from '../net/dial.ts'
import { createDhtNode, type Bootstrap } from '../net/dht.ts'
import type { Change } from '../market/types.ts'

export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000

export interface ClientOptions {
  marketKey: Buffer
  bootstrap: Bootstrap
  token?: string
  connectTimeoutMs?: number
  requestTimeoutMs?: number
  /** Reuse a DHT node (the demo, tests); otherwise the client makes and owns one. */
  dht?: DHT
}

export class MarketClient {
  token: string
  private replicaHandlers = new Set<(kind: 'snapshot' | 'changes', rows: Change[]) => void>()

  private constructor(
    private dht: DHT,
    private ownsDht: boolean,
    private socket: NoiseSocket,
    private market: RpcChannel,
    private replica: RpcChannel,
    token: string,
  ) {
    this.token = token
  }

  static async connect(opts: ClientOptions): Promise<MarketClient> {
    const dht = opts.dht ?? createDhtNode(opts.bootstrap)
    const ownsDht = !opts.dht
    let client: MarketClient | null = null
    let dialed
    try {
      dialed = await dial(
        dht,
        opts.marketKey,
        {
          deadlineMs: opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
          what: `the hub ${opts.marketKey.toString('hex').slice(0, 8)}…`,
        },
        (mux) => {
          const market = new RpcChannel(mux, { protocol: PROTOCOLS.market, timeoutMs: opts.requestTimeoutMs })
          const replica = new RpcChannel(mux, {
            protocol: PROTOCOLS.replica,
            onEvent: (name, data) => {
              if ((name === 'snapshot' || name === 'changes') && Array.isArray(data))
                for (const h of client?.replicaHandlers ?? []) h(name, data as Change[])
            },
          })
          return { opened: market.opened, value: { market, replica } }
        },
      )
    } catch (err) {
      if (ownsDht) await dht.destroy()
      throw err
    }
    const {
      socket,
      value: { market, replica },
    } = dialed
    client = new MarketClient(dht, ownsDht, socket, market, replica, opts.token ?? '')
    return client
  }

  get remoteKey(): string {
    return this.socket.remotePublicKey.toString('hex')
  }

  /** The DHT node this client dials with: other connections of the same user (console@1) reuse it. */
  get dhtNode(): DHT {
    return this.dht
  }

  call<T = any>(method: string, params: unknown = {}, opts: { timeoutMs?: number } = {}): Promise<T> {
    return this.market.request<T>(method, params, { token: this.token, timeoutMs: opts.timeoutMs })
  }

  /** Follow the change feed. `since` = last seq seen, -1 for a snapshot of everything visible first, or
   *  'now' for only what commits from now on (a command that follows one operation needs no snapshot). */
  async subscribe(
    since: number | 'now',
    onRows: (kind: 'snapshot' | 'changes', rows: Change[]) => void,
  ): Promise<{ seq: number }> {
    this.replicaHandlers.add(onRows)
    return this.replica.request('subscribe', { since }, { token: this.token })
  }

  onClose(fn: () => void): void {
    this.socket.once('close', fn)
  }

  async close(): Promise<void> {
    this.socket.destroy()
    if (this.ownsDht) await this.dht.destroy()
  }
}
