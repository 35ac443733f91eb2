// A guest that stops by itself (issue 11, item 11): the provider reports {vmId, version after}; the
// market moves the machine to 'stopped' at that version, stops charging for running, keeps the
// paid remainder, logs why; reports that do not apply change nothing.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { addPm, HOUR, nodeKeyOf, user, world, type World } from './helpers.ts'
import type { Identity, PmRow } from '../../src/market/types.ts'

let w: World, buyer: Identity, prov: Identity, pm: PmRow, vmId: string

beforeEach(async () => {
  w = await world()
  buyer = await user(w.market, 'alice', 'buyer')
  prov = await user(w.market, 'prov', 'provider')
  pm = await addPm(w.market, prov)
  await w.market.credit('alice', 100_000_000)
  vmId = (await w.market.register(buyer, { config: 'small' })).id
  await w.market.store(buyer, vmId, pm.id)
  await w.market.start(buyer, vmId)
})
afterEach(async () => {
  await w.close()
})

const vm = () => w.market.ctx.store.get('vm', vmId)!

describe('guest exits', () => {
  it('moves the machine to stopped at the reported version, stops running charges, logs why', async () => {
    const v = vm().version
    const paid = vm().chargedRunning
    w.clock.t += HOUR / 6
    expect(await w.market.guestExited(pm.nodeKey, { vmId, version: v + 1 })).toEqual({ applied: true })
    expect(vm()).toMatchObject({ state: 'stopped', version: v + 1, runningPaidUntil: null })
    expect(vm().runningCredit).toBe((5 * HOUR) / 6) // the paid remainder is kept, as for a stop
    const events = await w.market.log(buyer)
    expect(events.at(-1)).toMatchObject({ type: 'vm.exited', vmId, users: ['alice', 'prov'] })
    expect(events.at(-1)!.message).toMatch(/powered itself off or crashed/)
    w.clock.t += 5 * HOUR
    await w.market.billingPass()
    expect(vm().chargedRunning).toBe(paid)
    // Versions agree, so the next start is accepted by the provider's check.
    await w.market.start(buyer, vmId)
    expect(w.gateway.calls.at(-1)).toMatchObject({ method: 'vm.start', params: { vmId, version: v + 1 } })
    expect(vm().state).toBe('started')
  })

  it('acknowledges reports that do not apply and changes nothing', async () => {
    const v = vm().version
    const before = w.market.seq
    expect(await w.market.guestExited(nodeKeyOf(999), { vmId, version: v + 1 })).toEqual({ applied: false })
    expect(await w.market.guestExited(pm.nodeKey, { vmId, version: v + 2 })).toEqual({ applied: false })
    expect(await w.market.guestExited(pm.nodeKey, { vmId: 'nope', version: 1 })).toEqual({ applied: false })
    expect(w.market.seq).toBe(before)
    await w.market.guestExited(pm.nodeKey, { vmId, version: v + 1 })
    const after = w.market.seq
    expect(await w.market.guestExited(pm.nodeKey, { vmId, version: v + 1 })).toEqual({ applied: false })
    expect(w.market.seq).toBe(after)
  })

  it('answers retry while an action holds the machine, and refuses a malformed report', async () => {
    let release!: () => void
    w.gateway.gate = new Promise<void>((r) => (release = r))
    const stop = w.market.stop(buyer, vmId)
    expect(await w.market.guestExited(pm.nodeKey, { vmId, version: vm().version + 1 })).toEqual({
      applied: false,
      retry: true,
    })
    release()
    w.gateway.gate = null
    await stop
    await expect(w.market.guestExited(pm.nodeKey, { vmId })).rejects.toMatchObject({ code: 'MARKET_BAD_INPUT' })
  })
})
