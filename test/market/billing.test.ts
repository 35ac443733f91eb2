import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { world, user, addPm, codeOf, HOUR, DAY, T0, type World } from './helpers.ts'
import type { Identity, LedgerEntry, PmRow } from '../../src/market/types.ts'

// small on the helpers' sheet: storage 3000 per 1-day period, running 7200 per 1-hour period.
const STORAGE = 3000
const RUNNING = 7200
const MIN = 60_000

describe('billing', () => {
  let w: World, prov: Identity, buyer: Identity, pm: PmRow
  beforeEach(async () => {
    w = await world()
    prov = await user(w.market, 'prov', 'provider')
    buyer = await user(w.market, 'buyer', 'buyer')
    pm = await addPm(w.market, prov)
  })
  afterEach(async () => {
    const a = await w.market.audit()
    expect(a.balances).toBe(a.deposits) // the invariant holds after every scenario
    await w.close()
  })

  const ledger = async () => (await w.market.db.range('ledger')).filter((e) => e.kind !== 'deposit') as LedgerEntry[]
  const balance = (u: string) => w.market.db.get('users', u)!.balance
  const stored = async () => {
    const vm = await w.market.register(buyer, { config: 'small' })
    await w.market.store(buyer, vm.id, pm.id)
    return vm.id
  }

  it('charges storage at the start of each storage period, once', async () => {
    await w.market.credit('buyer', 1_000_000)
    const id = await stored()
    w.clock.t = T0 + DAY - 1
    expect((await w.market.billingPass()).charges).toBe(0)
    w.clock.t = T0 + DAY
    expect((await w.market.billingPass()).charges).toBe(1)
    expect((await w.market.billingPass()).charges).toBe(0) // idempotent
    expect((await ledger()).map((e) => [e.kind, e.time, e.amount, e.from, e.to])).toEqual([
      ['storage', T0, STORAGE, 'buyer', 'prov'],
      ['storage', T0 + DAY, STORAGE, 'buyer', 'prov'],
    ])
    expect(w.market.db.get('vm', id)!.chargedStorage).toBe(2 * STORAGE)
    expect(balance('prov')).toBe(2 * STORAGE)
  })

  it('charges running at the start of each running period, only while started', async () => {
    await w.market.credit('buyer', 1_000_000)
    const id = await stored()
    w.clock.t = T0 + 10 * MIN
    await w.market.start(buyer, id)
    w.clock.t = T0 + 10 * MIN + 2 * HOUR
    await w.market.billingPass()
    const running = (await ledger()).filter((e) => e.kind === 'running')
    expect(running.map((e) => e.time)).toEqual([T0 + 10 * MIN, T0 + 10 * MIN + HOUR, T0 + 10 * MIN + 2 * HOUR])
    await w.market.stop(buyer, id)
    w.clock.t += 10 * HOUR
    await w.market.billingPass()
    expect((await ledger()).filter((e) => e.kind === 'running')).toHaveLength(3)
  })

  it('does not round: a machine stopped mid-period keeps the paid remainder for its next start', async () => {
    await w.market.credit('buyer', 1_000_000)
    const id = await stored()
    await w.market.start(buyer, id) // pays T0 .. T0+1h
    w.clock.t = T0 + 20 * MIN
    const s = await w.market.stop(buyer, id)
    expect(s.runningCredit).toBe(40 * MIN)
    w.clock.t = T0 + 5 * HOUR
    const before = balance('buyer')
    const r = await w.market.start(buyer, id)
    expect(balance('buyer')).toBe(before) // the remainder is used first
    expect(r.runningPaidUntil).toBe(T0 + 5 * HOUR + 40 * MIN)
    w.clock.t = T0 + 5 * HOUR + 40 * MIN - 1
    expect((await w.market.billingPass()).charges).toBe(0)
    w.clock.t = T0 + 5 * HOUR + 40 * MIN
    await w.market.billingPass()
    expect((await ledger()).filter((e) => e.kind === 'running').map((e) => e.time)).toEqual([
      T0,
      T0 + 5 * HOUR + 40 * MIN,
    ])
  })

  it('suspends a running machine the balance cannot keep running, and refuses to start it', async () => {
    await w.market.credit('buyer', STORAGE + RUNNING)
    const id = await stored()
    await w.market.start(buyer, id)
    expect(balance('buyer')).toBe(0)
    w.clock.t = T0 + HOUR
    const r = await w.market.billingPass()
    expect(r.toSuspend).toEqual([id])
    expect(w.gateway.calls.at(-1)).toMatchObject({ method: 'vm.suspend', params: { vmId: id, version: 1 } })
    expect(w.market.db.get('vm', id)).toMatchObject({ state: 'suspended', version: 2, runningCredit: 0 })
    expect(balance('buyer')).toBe(0)
    expect(await codeOf(() => w.market.resume(buyer, id))).toBe('MARKET_INSUFFICIENT_FUNDS')
    await w.market.credit('buyer', RUNNING)
    expect((await w.market.resume(buyer, id)).state).toBe('started')
    expect(balance('buyer')).toBe(0)
  })

  it('keeps an unpaid storage period as debt that blocks start and is settled first when funds arrive', async () => {
    await w.market.credit('buyer', STORAGE)
    const id = await stored()
    w.clock.t = T0 + DAY
    await w.market.billingPass()
    expect(w.market.db.get('vm', id)!.storageDebt).toBe(STORAGE)
    expect(await codeOf(() => w.market.start(buyer, id))).toBe('MARKET_STORAGE_DEBT')
    await w.market.credit('buyer', STORAGE + RUNNING)
    expect(w.market.db.get('vm', id)).toMatchObject({ storageDebt: 0, chargedStorage: 2 * STORAGE })
    expect(balance('buyer')).toBe(RUNNING)
    expect(balance('prov')).toBe(2 * STORAGE)
    expect((await w.market.start(buyer, id)).state).toBe('started')
  })

  it('refuses to start without money for the first running period', async () => {
    await w.market.credit('buyer', STORAGE)
    const id = await stored()
    expect(await codeOf(() => w.market.start(buyer, id))).toBe('MARKET_INSUFFICIENT_FUNDS')
  })

  it('after a restart charges every elapsed period exactly once, each at its own start time', async () => {
    await w.market.credit('buyer', 100_000_000)
    const id = await stored()
    await w.market.start(buyer, id)
    await w.market.close().catch(() => {})
    w.clock.t = T0 + 3 * DAY + 30 * MIN
    await w.reopen()
    const r = await w.market.billingPass()
    expect(r.charges).toBe(3 + 72)
    const all = await ledger()
    expect(all.filter((e) => e.kind === 'storage').map((e) => e.time)).toEqual([
      T0,
      T0 + DAY,
      T0 + 2 * DAY,
      T0 + 3 * DAY,
    ])
    const run = all.filter((e) => e.kind === 'running').map((e) => e.time)
    expect(run).toHaveLength(73)
    expect(new Set(run).size).toBe(73)
    expect(run.at(-1)).toBe(T0 + 72 * HOUR)
    await w.reopen()
    expect((await w.market.billingPass()).charges).toBe(0)
    const vm = w.market.db.get('vm', id)!
    expect(vm.chargedStorage + vm.chargedRunning).toBe(4 * STORAGE + 73 * RUNNING)
    expect(balance('buyer') + balance('prov')).toBe(100_000_000)
  })

  it('spends scarce funds on periods in time order across storage and running', async () => {
    // Enough for: store (STORAGE), start (RUNNING), then 2 more running periods before the day ends.
    await w.market.credit('buyer', STORAGE + 3 * RUNNING)
    const id = await stored()
    await w.market.start(buyer, id)
    w.clock.t = T0 + DAY + HOUR
    const r = await w.market.billingPass()
    expect(r.toSuspend).toEqual([id])
    const runs = (await ledger()).filter((e) => e.kind === 'running').map((e) => e.time)
    expect(runs).toEqual([T0, T0 + HOUR, T0 + 2 * HOUR])
    expect(w.market.db.get('vm', id)!.storageDebt).toBe(STORAGE)
  })
})
