// Lost updates on provider-machine rows (issue 11, item 3): rules that await a provider command
// and then write the pm row must not undo what others wrote meanwhile. Every action below runs
// concurrently with the provider commands held; afterwards each pm's `used*` must equal the sum of
// its machines and reservations, and the concurrent edit must survive.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { addPm, DAY, user, world, type World } from './helpers.ts'
import { expectedRoom } from '../../src/market/room.ts'
import type { Identity, PmRow } from '../../src/market/types.ts'

let w: World, buyer: Identity, prov: Identity, a: PmRow, b: PmRow

const used = (id: string) => {
  const pm = w.market.ctx.store.get('pm', id)!
  return { speed: pm.usedSpeed, memory: pm.usedMemory, storage: pm.usedStorage }
}

async function stored(pm: PmRow): Promise<string> {
  const vm = await w.market.register(buyer, { config: 'small' })
  await w.market.store(buyer, vm.id, pm.id)
  return vm.id
}

beforeEach(async () => {
  w = await world()
  buyer = await user(w.market, 'alice', 'buyer')
  prov = await user(w.market, 'prov', 'provider')
  a = await addPm(w.market, prov, { name: 'a' })
  b = await addPm(w.market, prov, { name: 'b' })
  await w.market.credit('alice', 100_000_000)
})
afterEach(async () => {
  await w.close()
})

describe('pm rows under concurrent writers', () => {
  it('delete, store, evict, a migration reservation and an edit at once: used = sum of machines', async () => {
    const del = await stored(a)
    const toEvict = await stored(b)
    const migrating = await stored(b)
    const fresh = await w.market.register(buyer, { config: 'small' })
    await w.market.start(buyer, toEvict)
    await w.market.pmDelete(prov, b.id, { drainMs: DAY }).catch(() => {})
    // Hold every provider command so the rules sit on their await together.
    let release!: () => void
    w.gateway.gate = new Promise<void>((r) => (release = r))
    const pending = [w.market.delete(buyer, del), w.market.store(buyer, fresh.id, a.id)]
    w.clock.t += 2 * DAY // past b's drain deadline
    const drain = w.market.drainPass()
    await new Promise((r) => setImmediate(r))
    // These write at once, while the others wait for their providers.
    const m = await w.market.beginMigration(buyer, { vmId: migrating, to: a.id, method: 'RSYNC' })
    await w.market.pmEdit(prov, a.id, { storagePrice: 1234 })
    release()
    w.gateway.gate = null
    await Promise.all([...pending, drain])
    for (const pm of [a.id, b.id]) {
      const now = w.market.ctx.store.get('pm', pm)
      if (now) expect(used(pm)).toEqual(expectedRoom(w.market.ctx, pm))
    }
    expect(w.market.ctx.store.get('pm', a.id)!.storagePrice).toBe(1234)
    expect(w.market.ctx.store.get('vm', toEvict)).toBeUndefined()
    expect(w.market.ctx.store.get('vm', del)).toBeUndefined()
    // a holds the fresh machine and the reservation of the migrating one.
    expect(used(a.id).memory).toBe(2 * fresh.memory)
    await w.market.revertMigration(m.id, { code: 'TEST', message: 'reverted' })
    expect(used(a.id)).toEqual(expectedRoom(w.market.ctx, a.id))
    expect(used(a.id).memory).toBe(fresh.memory)
  })

  it('used never goes below zero when deletes race on one pm', async () => {
    const ids = [await stored(a), await stored(a), await stored(a)]
    let release!: () => void
    w.gateway.gate = new Promise<void>((r) => (release = r))
    const all = Promise.all(ids.map((id) => w.market.delete(buyer, id)))
    await new Promise((r) => setImmediate(r))
    release()
    w.gateway.gate = null
    await all
    expect(used(a.id)).toEqual({ speed: 0, memory: 0, storage: 0 })
  })
})
