// Live traffic counters at the hub (src/market/traffic.ts): a node's report is taken only for machines
// the market places on that node's provider machine; the owner and the hosting provider see them,
// nobody else; rates come from two reports; bad reports are refused whole; deleted machines drop out.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { addPm, codeOf, user, world, type World } from './helpers.ts'
import { MAX_TRAFFIC_ENTRIES } from '../../src/market/traffic.ts'
import type { Identity, PmRow, VmRow } from '../../src/market/types.ts'

let w: World
let alice: Identity
let bob: Identity
let prov: Identity
let other: Identity
let pmA: PmRow
let pmB: PmRow
let vm: VmRow

const counters = (vmId: string, n: number) => ({
  vmId,
  sentFrames: n,
  sentBytes: n * 100,
  recvFrames: n * 2,
  recvBytes: n * 200,
  dropped: 0,
})

beforeEach(async () => {
  w = await world()
  alice = await user(w.market, 'alice', 'buyer')
  bob = await user(w.market, 'bob', 'buyer')
  prov = await user(w.market, 'prov', 'provider')
  other = await user(w.market, 'other', 'provider')
  pmA = await addPm(w.market, prov, { name: 'a' })
  pmB = await addPm(w.market, other, { name: 'b' })
  await w.market.credit('alice', 1_000_000)
  vm = await w.market.register(alice, { config: 'small' })
  await w.market.store(alice, vm.id, pmA.id)
})
afterEach(async () => {
  await w.close()
})

describe('traffic counters', () => {
  it('takes a node report for its own machines only; the owner and the host see it, no one else', async () => {
    const r = w.market.traffic.report(pmA.nodeKey, { vms: [counters(vm.id, 3)] })
    expect(r).toEqual({ taken: 1, ignored: 0 })
    // Another provider's node cannot report (or overwrite) a machine it does not hold.
    expect(w.market.traffic.report(pmB.nodeKey, { vms: [counters(vm.id, 99)] })).toEqual({ taken: 0, ignored: 1 })
    const seen = w.market.traffic.visible(alice)
    expect(seen).toEqual([{ ...counters(vm.id, 3), sentRate: null, recvRate: null, at: w.clock.t }])
    expect(w.market.traffic.visible(prov).map((t) => t.vmId)).toEqual([vm.id])
    expect(w.market.traffic.visible(bob)).toEqual([])
    expect(w.market.traffic.visible(other)).toEqual([])
    expect(await codeOf(() => w.market.traffic.visible(null))).toBe('MARKET_AUTH_REQUIRED')
  })

  it('gives the rate between two reports, none after a restart of the counters', async () => {
    w.market.traffic.report(pmA.nodeKey, { vms: [counters(vm.id, 3)] })
    w.clock.t += 2000
    w.market.traffic.report(pmA.nodeKey, { vms: [counters(vm.id, 13)] })
    const [t] = w.market.traffic.visible(alice)
    expect([t.sentRate, t.recvRate]).toEqual([500, 1000]) // 1000 B and 2000 B in 2 s
    w.clock.t += 1000
    w.market.traffic.report(pmA.nodeKey, { vms: [counters(vm.id, 1)] }) // the guest started again
    expect(w.market.traffic.visible(alice)[0]).toMatchObject({ sentBytes: 100, sentRate: null, recvRate: null })
  })

  it('refuses a malformed or oversized report whole and keeps what it had', async () => {
    w.market.traffic.report(pmA.nodeKey, { vms: [counters(vm.id, 3)] })
    const bad = [
      null,
      {},
      { vms: 'x' },
      { vms: [{ ...counters(vm.id, 4), sentBytes: -1 }] },
      { vms: [{ ...counters(vm.id, 4), dropped: 1.5 }] },
      { vms: [{ ...counters(vm.id, 4), vmId: 7 }] },
      { vms: Array.from({ length: MAX_TRAFFIC_ENTRIES + 1 }, () => counters(vm.id, 4)) },
    ]
    for (const p of bad) expect(await codeOf(() => w.market.traffic.report(pmA.nodeKey, p))).toBe('MARKET_BAD_INPUT')
    expect(w.market.traffic.visible(alice)[0].sentFrames).toBe(3)
  })

  it('a machine that migrated away or was deleted is no longer reported or shown', async () => {
    w.market.traffic.report(pmA.nodeKey, { vms: [counters(vm.id, 3)] })
    const mig = await w.market.beginMigration(alice, { vmId: vm.id, to: pmB.id, method: 'RSYNC' })
    await w.market.commitMigration(mig.id, vm.version + 2)
    // The old node's last word is stale; the new one's is taken and its provider sees it.
    expect(w.market.traffic.report(pmA.nodeKey, { vms: [counters(vm.id, 5)] }).taken).toBe(0)
    expect(w.market.traffic.report(pmB.nodeKey, { vms: [counters(vm.id, 1)] }).taken).toBe(1)
    expect(w.market.traffic.visible(prov)).toEqual([])
    expect(w.market.traffic.visible(other).map((t) => t.sentFrames)).toEqual([1])
    await w.market.delete(alice, vm.id)
    expect(w.market.traffic.visible(alice)).toEqual([])
  })
})
