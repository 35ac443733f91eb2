// The market: one object over the store that the hub serves. It ties the rule modules together,
// enforces who may do what (inside, so no caller can skip it) and forwards committed changes as
// 'change' events for the replica feed. Every method taking `who` checks it itself. Its shared state is
// in market-core.ts, its migration methods in market-migrations.ts.
import { Store } from './store.ts'
import { requireUser } from './context.ts'
import type { MarketOptions } from './market-core.ts'
import { MarketMigrations } from './market-migrations.ts'
import * as accounts from './accounts.ts'
import * as catalog from './catalog.ts'
import * as machinesMod from './machines.ts'
import * as lifecycle from './lifecycle.ts'
import { storeVm } from './store-vm.ts'
import { deleteVm } from './removal.ts'
import * as providersMod from './providers.ts'
import * as nodesMod from './nodes.ts'
import * as nodeEventMod from './node-events.ts'
import { evictUnpaid, unpaidPass } from './unpaid.ts'
import { reconcileNode, reconcilePass } from './reconcile.ts'
import * as billing from './billing.ts'
import * as admin from './admin.ts'
import * as networks from './networks.ts'
import { guestExited, type ExitAnswer } from './exits.ts'
import * as imagesMod from './images.ts'
import * as mediaMod from './media.ts'
import { deliveryProgress, revertStaleDeliveries } from './delivery.ts'
import { account } from './account.ts'
import { pricePass } from './prices.ts'
import { scryptCost } from '../scrypt.ts'
import { search, type Offer, type SearchInput } from './search.ts'
import { listEvents } from './events.ts'
import * as placementMod from './placement.ts'
import { audienceOf, changesSince, feedSnapshot, viewFor } from './feed.ts'
import type { Change, ConfigRow, EventRow, Identity, ImageRow, Micro, PmRow, UserRow, VmRow } from './types.ts'

export type { MarketOptions } from './market-core.ts'
export type { Migrator } from './market-migrations.ts'

export class Market extends MarketMigrations {
  private billing: Promise<billing.BillingReport> | null = null

  static async open(opts: MarketOptions): Promise<Market> {
    scryptCost(opts.scryptN) // a bad cost is refused before the database is opened
    let audience: ReturnType<typeof audienceOf> | null = null
    const db = await Store.open(opts.dir, { audience: (t, k, v) => audience!(t, k, v), fault: opts.storeFault })
    audience = audienceOf(db) // built once: it runs for every row written
    const market = new Market(db, opts)
    await catalog.seedCatalog(market.ctx, opts.configsFile)
    await nodesMod.allOffline(market.ctx) // after a restart no node is connected yet
    await revertStaleDeliveries(market.ctx) // no delivery survives a restart: those machines are registered again
    return market
  }

  async close(): Promise<void> {
    await this.billing?.catch(() => {})
    await this.db.close()
  }

  now(): number {
    return this.ctx.clock()
  }

  signup(input: accounts.SignupInput): Promise<UserRow> {
    return accounts.signup(this.ctx, input)
  }
  login(input: { username: string; password: string; ttlMs?: number }): Promise<accounts.LoginResult> {
    return accounts.login(this.ctx, input)
  }
  logout(tokenOrWho: string | Identity | null): Promise<void> {
    return accounts.logout(this.ctx, tokenOrWho)
  }
  authenticate(token: string): Identity {
    return accounts.authenticate(this.ctx, token)
  }
  /** Who calls, if they may call something that needs `need` (see accounts.authorize). */
  authorize(token: string, need: accounts.Need, what: string): Identity | null {
    return accounts.authorize(this.ctx, token, need, what)
  }
  whoami(who: Identity | null): UserRow {
    return accounts.whoami(this.ctx, who)
  }

  // --- accounts, catalog and marketplace ---
  configs(): ConfigRow[] {
    return catalog.configs(this.ctx)
  }
  providers(opts: { sort?: 'name' | 'connectspeed' } = {}): ReturnType<typeof providersMod.providers> {
    return providersMod.providers(this.ctx, opts)
  }

  // --- the image catalog (images.ts, delivery.ts) ---
  imagesDropped(nodeKey: string, p: { digests?: unknown }): Promise<{ ok: boolean }> {
    return imagesMod.imagesDropped(this.ctx, nodeKey, p)
  }

  images(): imagesMod.ImageListing[] {
    return imagesMod.listImages(this.ctx)
  }
  /** The operator's image, already imported into the hub's image store. */
  addHubImage(input: imagesMod.ImageInput): Promise<ImageRow> {
    return imagesMod.addHubImage(this.ctx, input)
  }
  publishImage(who: Identity | null, input: { name: string; os: string; pmId: string; file: string }) {
    return imagesMod.publishImage(this.ctx, who, input)
  }
  deliveryProgress(nodeKey: string, p: { vmId?: unknown; done?: unknown; total?: unknown }): Promise<{ ok: boolean }> {
    return deliveryProgress(this.ctx, nodeKey, p)
  }

  attachMedia(who: Identity | null, input: mediaMod.MediaInput): Promise<VmRow> {
    return mediaMod.attachMedia(this.ctx, who, input)
  }
  detachMedia(who: Identity | null, vmId: string): Promise<VmRow> {
    return mediaMod.detachMedia(this.ctx, who, vmId)
  }

  // --- buyers ---
  register(who: Identity | null, input: machinesMod.RegisterInput): Promise<VmRow> {
    return machinesMod.register(this.ctx, who, input)
  }
  edit(who: Identity | null, vmId: string, patch: machinesMod.EditInput): Promise<VmRow> {
    return machinesMod.edit(this.ctx, who, vmId, patch)
  }
  machines(who: Identity | null): ReturnType<typeof machinesMod.machines> {
    return machinesMod.machines(this.ctx, who)
  }
  netCreate(who: Identity | null, input: { name: string; subnet?: string }) {
    return networks.netCreate(this.ctx, who, input)
  }
  netList(who: Identity | null): ReturnType<typeof networks.netList> {
    return networks.netList(this.ctx, who)
  }
  netDelete(who: Identity | null, name: string): Promise<void> {
    return networks.netDelete(this.ctx, who, name)
  }
  /** Node keys of the providers holding a machine of network `net` (the hub's vnet service). */
  networkNodes(net: string): string[] {
    return networks.networkNodes(this.ctx, net)
  }
  search(who: Identity | null, input: SearchInput): Offer[] {
    return search(this.ctx, who, input)
  }
  store(who: Identity | null, vmId: string, pmId: string): Promise<VmRow> {
    return storeVm(this.ctx, who, vmId, pmId)
  }
  start(who: Identity | null, vmId: string): Promise<VmRow> {
    return lifecycle.act(this.ctx, who, vmId, 'start')
  }
  stop(who: Identity | null, vmId: string): Promise<VmRow> {
    return lifecycle.act(this.ctx, who, vmId, 'stop')
  }
  suspend(who: Identity | null, vmId: string): Promise<VmRow> {
    return lifecycle.act(this.ctx, who, vmId, 'suspend')
  }
  resume(who: Identity | null, vmId: string): Promise<VmRow> {
    return lifecycle.act(this.ctx, who, vmId, 'resume')
  }
  delete(who: Identity | null, vmId: string): Promise<void> {
    return deleteVm(this.ctx, who, vmId)
  }

  // --- the hub's own services (console tickets, the migration agent) ---
  vm(vmId: string): VmRow {
    return placementMod.machineRow(this.ctx, vmId)
  }
  placement(who: Identity | null, vmId: unknown, what: string, needs?: placementMod.PlacementNeeds) {
    return placementMod.placement(this.ctx, who, vmId, what, needs)
  }
  /** The node that carries a physical machine; MARKET_NOT_FOUND once the machine is deleted. */
  pmNodeKey(pmId: string): string {
    return placementMod.pmNodeKey(this.ctx, pmId)
  }
  nodeInfo(nodeKey: string): Record<string, unknown> {
    return placementMod.nodeInfo(this.ctx, nodeKey)
  }
  /** What a provider's hypervisor is told about a machine (sizes, OS, its network card). */
  hvConfig(vm: VmRow): ReturnType<typeof networks.hvConfig> {
    return networks.hvConfig(this.ctx, vm)
  }

  account(who: Identity | null): ReturnType<typeof account> {
    return account(this.ctx, who)
  }
  log(who: Identity | null, opts: { after?: number; limit?: number } = {}): Promise<EventRow[]> {
    return listEvents(this.ctx, requireUser(who), opts)
  }

  // --- providers ---
  pmAdd(who: Identity | null, input: providersMod.PmAddInput): Promise<PmRow> {
    return providersMod.pmAdd(this.ctx, who, input)
  }
  pmEdit(who: Identity | null, pmId: string, patch: providersMod.PmEditInput): Promise<PmRow> {
    return providersMod.pmEdit(this.ctx, who, pmId, patch)
  }
  pmDelete(
    who: Identity | null,
    pmId: string,
    opts: { drainMs?: number } = {},
  ): Promise<{ deleted: boolean; drainUntil: number | null }> {
    return providersMod.pmDelete(this.ctx, who, pmId, opts)
  }

  // --- provider nodes (the caller has proven the node key) ---
  nodeHello(
    nodeKey: string,
    hello: { info: unknown; pairingCodeHash?: string | null },
  ): Promise<{ pmId: string | null }> {
    return nodesMod.nodeHello(this.ctx, nodeKey, hello)
  }
  /** The node is bound to a provider's physical machine (pm add): only those may report. */
  nodeBound(nodeKey: string): boolean {
    return nodesMod.nodeBound(this.ctx, nodeKey)
  }
  nodeOffline(nodeKey: string): Promise<void> {
    return nodesMod.nodeOffline(this.ctx, nodeKey)
  }
  /** The node's guest stopped by itself (see exits.ts). */
  guestExited(nodeKey: string, report: unknown): Promise<ExitAnswer> {
    return guestExited(this.ctx, nodeKey, report)
  }
  nodeEvent(nodeKey: string, e: Parameters<typeof nodeEventMod.nodeEvent>[2]): Promise<{ ok: true }> {
    return nodeEventMod.nodeEvent(this.ctx, nodeKey, e)
  }

  // --- daemons (report §6.1.9); each is idempotent and safe to run late ---
  /** Charges what is due at `now`, then suspends the machines whose running nobody can pay. */
  async billingPass(now = this.ctx.clock()): Promise<billing.BillingReport> {
    // One pass at a time: a second caller waits for the running one and then runs its own.
    while (this.billing) await this.billing.catch(() => {})
    const run = (async () => {
      const report = await billing.billingPass(this.ctx, now)
      await unpaidPass(this.ctx, now)
      for (const id of report.toSuspend)
        await lifecycle.suspendForFunds(this.ctx, id).catch((err) => {
          this.ctx.problem(`suspending ${id} for lack of funds`, err)
          return false
        })
      return report
    })()
    this.billing = run
    try {
      return await run
    } finally {
      this.billing = null
    }
  }
  pricePass(now = this.ctx.clock()): Promise<{ priced: number; stale: number }> {
    return pricePass(this.ctx, now)
  }
  /** Applies actions a node carried out whose answers were lost (reconcile.ts). */
  reconcileNode(nodeKey: string): Promise<string[]> {
    return reconcileNode(this.ctx, nodeKey)
  }
  reconcilePass(): Promise<string[]> {
    return reconcilePass(this.ctx)
  }
  /** The provider evicts a machine whose storage stayed unpaid past its grace period (unpaid.ts). */
  evictUnpaid(who: Identity | null, vmId: string): Promise<{ ok: true }> {
    return evictUnpaid(this.ctx, who, vmId)
  }
  drainPass(now = this.ctx.clock()): Promise<{ evicted: string[]; removed: string[] }> {
    return providersMod.drainPass(this.ctx, now)
  }

  // --- operator (local only) ---
  credit(username: string, amount: Micro): Promise<UserRow> {
    return admin.credit(this.ctx, username, amount)
  }
  logAll(opts: { after?: number; limit?: number } = {}): Promise<EventRow[]> {
    return listEvents(this.ctx, null, opts)
  }
  audit(): Promise<admin.Audit> {
    return admin.audit(this.ctx)
  }

  // --- change feed (replica@1) ---
  /** Last committed change seq. */
  get seq(): number {
    return this.db.seq('changes')
  }

  /** Changes after `since`, or null when the caller must take a snapshot (unknown or too far behind). */
  changesSince(since: number): Promise<Change[] | null> {
    return changesSince(this.db, since)
  }

  /** The change as `who` may receive it on the feed, or null (see feed.ts viewFor). */
  viewFor(change: Change, who: Identity | null): Change | null {
    this.audience ??= audienceOf(this.db)
    return viewFor(change, who, this.audience)
  }
  private audience: ReturnType<typeof audienceOf> | null = null

  /** Every row `who` may see, as changes stamped with the current seq. */
  snapshot(who: Identity | null): Promise<{ seq: number; rows: Change[] }> {
    return feedSnapshot(this.db, who)
  }
}
