// Feed leaks (issue 11, item 7): a provider a machine migrated away from sees nothing of its new
// state, live or replayed; a provider never receives the buyer's bids; a deleted row reaches only
// its audience as a deletion.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { addPm, user, world, type World } from './helpers.ts'
import type { Change, Identity, PmRow } from '../../src/market/types.ts'

let w: World, buyer: Identity, provA: Identity, provB: Identity, a: PmRow, b: PmRow
const live: Change[] = []

beforeEach(async () => {
  w = await world()
  live.length = 0
  w.market.on('change', (c: Change) => live.push(c))
  buyer = await user(w.market, 'alice', 'buyer')
  provA = await user(w.market, 'prov-a', 'provider')
  provB = await user(w.market, 'prov-b', 'provider')
  a = await addPm(w.market, provA)
  b = await addPm(w.market, provB)
  await w.market.credit('alice', 100_000_000)
})
afterEach(async () => {
  await w.close()
})

const views = (cs: Change[], who: Identity) =>
  cs.map((c) => w.market.viewFor(c, who)).filter((c): c is Change => c !== null)

describe('feed leaks', () => {
  it('the old provider never sees the machine after it migrated away, live or replayed', async () => {
    const vm = await w.market.register(buyer, { config: 'small', bidStorage: 123, bidRunning: 45 })
    await w.market.store(buyer, vm.id, a.id)
    const m = await w.market.beginMigration(buyer, { vmId: vm.id, to: b.id, method: 'RSYNC' })
    await w.market.commitMigration(m.id, m.version + 1)
    await w.market.start(buyer, vm.id)
    const replayed = (await w.market.changesSince(0))!
    for (const feed of [live, replayed]) {
      const seenByA = views(feed, provA).filter((c) => c.table === 'vm' && c.key === vm.id)
      expect(seenByA.length).toBeGreaterThan(0)
      for (const c of seenByA) if (c.value) expect((c.value as any).pmId).toBe(a.id)
      // Its last word on the machine is a deletion: its replica drops the row.
      expect(seenByA.at(-1)!.value).toBeNull()
      const seenByB = views(feed, provB).filter((c) => c.table === 'vm' && c.key === vm.id && c.value)
      expect(seenByB.at(-1)!.value).toMatchObject({ pmId: b.id, state: 'started' })
    }
    const snapA = await w.market.snapshot(provA)
    expect(snapA.rows.filter((c) => c.table === 'vm')).toEqual([])
  })

  it('a provider is never sent the buyer bids; the buyer is', async () => {
    const vm = await w.market.register(buyer, { config: 'small', bidStorage: 123, bidRunning: 45 })
    await w.market.store(buyer, vm.id, a.id)
    const replayed = (await w.market.changesSince(0))!
    const snap = (await w.market.snapshot(provA)).rows
    for (const feed of [views(live, provA), views(replayed, provA), snap]) {
      const vms = feed.filter((c) => c.table === 'vm' && c.value)
      expect(vms.length).toBeGreaterThan(0)
      for (const c of vms) {
        expect(c.value).not.toHaveProperty('bidStorage')
        expect(c.value).not.toHaveProperty('bidRunning')
      }
    }
    const own = views(live, buyer).filter((c) => c.table === 'vm' && c.value)
    expect(own.at(-1)!.value).toMatchObject({ bidStorage: 123, bidRunning: 45 })
  })
})
