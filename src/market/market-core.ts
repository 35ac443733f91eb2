// What every part of the Market object shares: the rule modules' context over the store, and the
// events it sends (committed changes for the replica feed, problems for the hub's log). The Market's
// methods are split by concern over a chain of classes: this core, the migrations (market-migrations.ts),
// then everything else (market.ts).
import { EventEmitter } from 'node:events'
import { type Store, type StoreOptions } from './store.ts'
import type { ProviderGateway } from './gateway.ts'
import type { Ctx } from './context.ts'
import { DEFAULT_SESSION_TTL_MS } from './accounts.ts'
import { scryptCost } from '../scrypt.ts'
import { TrafficTable } from './traffic.ts'
import type { Change } from './types.ts'

export interface MarketOptions {
  dir: string
  gateway: ProviderGateway
  clock?: () => number
  sessionTtlMs?: number
  /** scrypt N for new password hashes (default 2^17; tests and the simulation pass a low one). */
  scryptN?: number
  /** Where the standard configurations come from on first open (default fixtures/configs.json). */
  configsFile?: URL | string
  /** Fault injection into the store's writes (see StoreOptions.fault). */
  storeFault?: StoreOptions['fault']
}

export class MarketCore extends EventEmitter {
  readonly ctx: Ctx
  readonly traffic: TrafficTable // live per-machine counters the nodes report (memory only: traffic.ts)

  protected constructor(
    readonly db: Store,
    opts: MarketOptions,
  ) {
    super()
    this.setMaxListeners(0)
    this.ctx = {
      store: db,
      gateway: opts.gateway,
      clock: opts.clock ?? Date.now,
      locks: new Set(),
      sessionTtlMs: opts.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS,
      scrypt: scryptCost(opts.scryptN),
      suspendFailing: new Map(),
      problem: (what, err) => this.emit('problem', { what, error: err }),
    }
    db.on('change', (c: Change) => this.emit('change', c))
    this.traffic = new TrafficTable(this.ctx)
  }
}
