// Unpaid storage (issue 11 item 16): a machine whose storage goes unpaid is warned about, then
// overdue after its grace period, and only then may its provider evict it; paying ends it all.
// Nothing is deleted without both warnings in the log first.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { addPm, codeOf, DAY, T0, user, world, type World } from './helpers.ts'
import type { Identity, PmRow } from '../../src/market/types.ts'
import { evictableFrom, UNPAID_GRACE_MIN_MS } from '../../src/market/unpaid.ts'

// small on the helpers' sheet: storage 3000 per 1-day period, so the grace is the 7-day minimum.
const STORAGE = 3000

let w: World, prov: Identity, other: Identity, buyer: Identity, pm: PmRow
beforeEach(async () => {
  w = await world()
  prov = await user(w.market, 'prov', 'provider')
  other = await user(w.market, 'other', 'provider')
  buyer = await user(w.market, 'buyer', 'buyer')
  pm = await addPm(w.market, prov)
  await addPm(w.market, other)
})
afterEach(async () => {
  const a = await w.market.audit()
  expect(a.balances).toBe(a.deposits)
  await w.close()
})

/** A machine stored with enough for its first storage period only. */
async function unpaidSoon(): Promise<string> {
  await w.market.credit('buyer', STORAGE)
  const vm = await w.market.register(buyer, { config: 'small' })
  await w.market.store(buyer, vm.id, pm.id)
  return vm.id
}
const types = async (vmId: string) =>
  (await w.market.logAll({})).filter((e) => e.vmId === vmId && e.type.startsWith('vm.')).map((e) => e.type)
const pass = async (t: number) => {
  w.clock.t = t
  await w.market.billingPass()
}

describe('unpaid storage', () => {
  it('warns, then after the grace period says it is overdue, and only then may its provider evict it', async () => {
    const id = await unpaidSoon()
    await pass(T0 + DAY)
    const vm = w.market.db.get('vm', id)!
    expect(vm.storageDebt).toBe(STORAGE)
    expect(vm.unpaidSince).toBe(T0 + DAY)
    const warned = (await w.market.log(buyer)).filter((e) => e.type === 'vm.storage-unpaid')
    expect(warned).toHaveLength(1)
    expect(warned[0].users.sort()).toEqual(['buyer', 'prov'])
    const acct = await w.market.account(buyer)
    expect(acct.type === 'buyer' && acct.vms[0].evictableFrom).toBe(T0 + DAY + UNPAID_GRACE_MIN_MS)

    // In the grace period: refused, nothing asked of the node.
    expect(await codeOf(() => w.market.evictUnpaid(prov, id))).toBe('MARKET_ACTION_NOT_ALLOWED')
    await pass(evictableFrom(vm)! - 1)
    expect(await codeOf(() => w.market.evictUnpaid(prov, id))).toBe('MARKET_ACTION_NOT_ALLOWED')
    expect(w.gateway.methods()).not.toContain('vm.delete')

    await pass(evictableFrom(vm)!)
    expect(w.market.db.get('vm', id)!.unpaidWarned).toBe('overdue')
    // Only its own provider, and not the buyer.
    expect(await codeOf(() => w.market.evictUnpaid(other, id))).toBe('MARKET_NOT_FOUND')
    expect(await codeOf(() => w.market.evictUnpaid(buyer, id))).toBe('MARKET_FORBIDDEN')
    await w.market.evictUnpaid(prov, id)
    expect(w.market.db.get('vm', id)).toBeUndefined()
    expect(w.gateway.methods()).toContain('vm.delete')
    expect(w.market.db.get('pm', pm.id)!.usedStorage).toBe(0)
    const order = await types(id)
    expect(order.indexOf('vm.storage-unpaid')).toBeLessThan(order.indexOf('vm.storage-overdue'))
    expect(order.at(-1)).toBe('vm.delete')
    const gone = (await w.market.logAll({})).at(-1)!
    expect(gone.message).toMatch(/unpaid storage .* written off/)
    expect(gone.origin).toBe('user:prov')
  })

  it('paying the debt ends it: a third event, no eviction, and a later debt starts over', async () => {
    const id = await unpaidSoon()
    await pass(T0 + DAY)
    await w.market.credit('buyer', 2 * STORAGE) // the debt, and one more day
    await pass(T0 + DAY + 1)
    expect(w.market.db.get('vm', id)).toMatchObject({ storageDebt: 0, unpaidSince: null, unpaidWarned: null })
    expect(await types(id)).toContain('vm.storage-paid')
    await pass(T0 + 2 * DAY)
    expect(w.market.db.get('vm', id)!.storageDebt).toBe(0)
    await pass(T0 + 3 * DAY)
    // The funds ran out again: a new warning, with a new grace period from now.
    const vm = w.market.db.get('vm', id)!
    expect(vm.storageDebt).toBe(STORAGE)
    expect(vm.unpaidSince).toBe(T0 + 3 * DAY)
    expect(await codeOf(() => w.market.evictUnpaid(prov, id))).toBe('MARKET_ACTION_NOT_ALLOWED')
    expect((await types(id)).filter((t) => t === 'vm.storage-unpaid')).toHaveLength(2)
  })
})
