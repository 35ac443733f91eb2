// Search (the report's searchprovider / searchproviderspre): provider machines with room for a
// machine, not draining, whose node is online, with the exact prices it would pay there.
import type { Ctx } from './context.ts'
import { ownVm, requireBuyer } from './context.ts'
import { findConfig } from './catalog.ts'
import { errors } from './errors.ts'
import { quote, withinBids, type Quote, type Resources } from './pricing.ts'
import { requireAction } from './statusrelations.ts'
import type { Identity, Micro, PmRow } from './types.ts'

export type SortKey = 'running' | 'storage' | 'total' | 'connectspeed'
export const SORT_KEYS: readonly SortKey[] = ['running', 'storage', 'total', 'connectspeed']

export interface Offer extends Quote {
  pmId: string
  name: string
  owner: string
  processor: string
  free: { speed: number; memory: number; storage: number }
  withinBids: boolean
  /** storagePerDay + 24 * runningPerHour: one day stored and running. */
  totalPerDay: Micro
  /** Mbit/s (connectspeed), null when unknown. */
  connectSpeed: number | null
}

export function free(pm: PmRow): { speed: number; memory: number; storage: number } {
  return { speed: pm.speed - pm.usedSpeed, memory: pm.memory - pm.usedMemory, storage: pm.storage - pm.usedStorage }
}

export function fits(pm: PmRow, r: Resources): boolean {
  return (
    pm.speed - pm.usedSpeed >= r.speed && pm.memory - pm.usedMemory >= r.memory && pm.storage - pm.usedStorage >= r.hd
  )
}

/** Why a machine does not fit, for MARKET_NO_ROOM; null when it does. */
export function roomProblem(pm: PmRow, r: Resources): string | null {
  const f = free(pm)
  if (f.speed < r.speed) return `${f.speed} of ${r.speed} bogomips free`
  if (f.memory < r.memory) return `${f.memory} of ${r.memory} MB memory free`
  if (f.storage < r.hd) return `${f.storage} of ${r.hd} MB storage free`
  return null
}

export interface SearchInput {
  vmId?: string
  config?: string
  sort?: SortKey
  limit?: number
}

export function search(ctx: Ctx, who: Identity | null, input: SearchInput): Offer[] {
  const buyer = requireBuyer(who, 'search')
  let need: Resources
  let bids = { bidStorage: null as Micro | null, bidRunning: null as Micro | null }
  let current: string | null = null
  if (input.vmId !== undefined) {
    const vm = ownVm(ctx, buyer, input.vmId)
    // Registered: where to store it (report's searchprovider). Stored elsewhere: where to migrate it.
    requireAction(vm.state, vm.pmId ? 'migrate' : 'search')
    current = vm.pmId
    need = vm
    bids = { bidStorage: vm.bidStorage, bidRunning: vm.bidRunning }
  } else if (input.config !== undefined) {
    need = findConfig(ctx, input.config)
  } else {
    throw errors.badInput('search', 'give a machine id or --config NAME')
  }
  const sort = input.sort ?? 'total'
  const offers: Offer[] = []
  for (const pm of ctx.store.values('pm')) {
    if (pm.id === current || pm.drainUntil !== null || !fits(pm, need) || !ctx.gateway.online(pm.nodeKey)) continue
    const q = quote(pm, need)
    offers.push({
      pmId: pm.id,
      name: pm.name,
      owner: pm.owner,
      processor: pm.processor,
      free: free(pm),
      ...q,
      withinBids: withinBids(q, bids),
      totalPerDay: q.storagePerDay + 24 * q.runningPerHour,
      connectSpeed: pm.connectSpeed ?? null,
    })
  }
  // Fastest first for connectspeed; cheapest first for prices.
  const key =
    sort === 'connectspeed'
      ? (o: Offer) => -(o.connectSpeed ?? 0)
      : sort === 'running'
        ? (o: Offer) => o.runningPerHour
        : sort === 'storage'
          ? (o: Offer) => o.storagePerDay
          : (o: Offer) => o.totalPerDay
  offers.sort((a, b) => key(a) - key(b) || a.pmId.localeCompare(b.pmId))
  return input.limit !== undefined ? offers.slice(0, input.limit) : offers
}
