// Errors that used to be swallowed (issue 11, item 15): each failure is said once, where someone
// reads it, and a failure that repeats every billing pass does not flood the log.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { addPm, HOUR, T0, user, world, type World } from './helpers.ts'
import type { Identity, PmRow } from '../../src/market/types.ts'

const STORAGE = 3000
const RUNNING = 7200
let w: World, prov: Identity, buyer: Identity, pm: PmRow

beforeEach(async () => {
  w = await world()
  prov = await user(w.market, 'prov', 'provider')
  buyer = await user(w.market, 'buyer', 'buyer')
  pm = await addPm(w.market, prov)
})
afterEach(async () => {
  await w.close()
})

const events = async (type: string) => (await w.market.logAll()).filter((e) => e.type === type)

describe('surfaced errors', () => {
  it('a suspend-for-funds that fails while the provider is offline is logged once, not every pass', async () => {
    await w.market.credit('buyer', STORAGE + RUNNING)
    const vm = await w.market.register(buyer, { config: 'small' })
    await w.market.store(buyer, vm.id, pm.id)
    await w.market.start(buyer, vm.id)
    w.gateway.offline.add(pm.nodeKey)
    for (let s = 0; s < 5; s++) {
      w.clock.t = T0 + HOUR + s * 1000
      await w.market.billingPass()
    }
    expect(await events('vm.suspend.failed')).toHaveLength(1)
    w.gateway.offline.delete(pm.nodeKey)
    await w.market.billingPass()
    expect(w.market.db.get('vm', vm.id)!.state).toBe('suspended')
    expect(await events('vm.suspend')).toHaveLength(1)
  })

  it('a failure with a new cause is logged again', async () => {
    await w.market.credit('buyer', STORAGE + RUNNING)
    const vm = await w.market.register(buyer, { config: 'small' })
    await w.market.store(buyer, vm.id, pm.id)
    await w.market.start(buyer, vm.id)
    w.clock.t = T0 + HOUR
    w.gateway.offline.add(pm.nodeKey)
    await w.market.billingPass()
    w.gateway.offline.delete(pm.nodeKey)
    w.gateway.failNext.add('vm.suspend')
    await w.market.billingPass()
    await w.market.billingPass() // succeeds
    expect((await events('vm.suspend.failed')).map((e) => e.message)).toEqual([
      expect.stringMatching(/offline/),
      expect.stringMatching(/failed on the provider/),
    ])
  })

  it('a refused store whose provider copy cannot be removed tells the provider about the orphan', async () => {
    await w.market.credit('buyer', STORAGE)
    const a = await w.market.register(buyer, { config: 'small' })
    const b = await w.market.register(buyer, { config: 'small' })
    let release!: () => void
    w.gateway.gate = new Promise<void>((r) => (release = r))
    // Both pass the funds check before the provider answers; the second to commit must be refused.
    const both = Promise.allSettled([w.market.store(buyer, a.id, pm.id), w.market.store(buyer, b.id, pm.id)])
    await new Promise((r) => setImmediate(r))
    w.gateway.failNext.add('vm.delete')
    release()
    w.gateway.gate = null
    const results = await both
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
    const orphan = await events('vm.orphan')
    expect(orphan).toHaveLength(1)
    expect(orphan[0]).toMatchObject({ users: ['prov'], pmId: pm.id })
  })
})
