import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { world, user, addPm, codeOf, nodeKeyOf, INFO, SHEET, DAY, type World } from './helpers.ts'
import { hashPairingCode } from '../../src/market/pairing.ts'
import type { Identity } from '../../src/market/types.ts'

describe('providers', () => {
  let w: World, prov: Identity, buyer: Identity
  beforeEach(async () => {
    w = await world()
    prov = await user(w.market, 'prov', 'provider')
    buyer = await user(w.market, 'buyer', 'buyer')
    await w.market.credit('buyer', 1_000_000)
  })
  afterEach(async () => {
    await w.close()
  })

  it('binds a node by its one-time pairing code, locking what the node measured', async () => {
    const key = nodeKeyOf(1000)
    await w.market.nodeHello(key, { info: INFO, pairingCodeHash: hashPairingCode('ABCDE-FGHJK') })
    expect(await codeOf(() => w.market.pmAdd(prov, { pairing: 'WRONG-CODE1', ...SHEET }))).toBe(
      'MARKET_PAIRING_INVALID',
    )
    expect(await codeOf(() => w.market.pmAdd(buyer, { pairing: 'ABCDE-FGHJK', ...SHEET }))).toBe('MARKET_FORBIDDEN')
    const pm = await w.market.pmAdd(prov, { pairing: 'abcde-fghjk', name: 'box', ...SHEET })
    expect(pm).toMatchObject({
      owner: 'prov',
      nodeKey: key,
      speed: INFO.bogomips,
      memory: INFO.memory,
      storage: INFO.storage,
      processor: 'x86_64',
    })
    expect(await codeOf(() => w.market.pmAdd(prov, { pairing: 'ABCDE-FGHJK', ...SHEET }))).toBe(
      'MARKET_PAIRING_INVALID',
    )
    expect(await w.market.nodeHello(key, { info: { ...INFO, memory: 999_999 }, pairingCodeHash: null })).toEqual({
      pmId: pm.id,
    })
    expect(w.market.db.get('pm', pm.id)!.memory).toBe(INFO.memory)
  })

  it('refuses a pairing code of an offline node', async () => {
    const key = nodeKeyOf(1001)
    await w.market.nodeHello(key, { info: INFO, pairingCodeHash: hashPairingCode('QQQQQ-WWWWW') })
    w.gateway.offline.add(key)
    expect(await codeOf(() => w.market.pmAdd(prov, { pairing: 'QQQQQ-WWWWW', ...SHEET }))).toBe(
      'MARKET_PAIRING_INVALID',
    )
  })

  it('copies settings with like, only from own machines', async () => {
    const a = await addPm(w.market, prov, { sheet: { storagePrice: 777, runningPeriod: 60 } })
    const key = nodeKeyOf(1002)
    await w.market.nodeHello(key, { info: INFO, pairingCodeHash: hashPairingCode('LIKE1-LIKE1') })
    const b = await w.market.pmAdd(prov, { pairing: 'LIKE1-LIKE1', like: a.id })
    expect(b.storagePrice).toBe(777)
    expect(b.runningPeriod).toBe(60)
    const other = await user(w.market, 'other', 'provider')
    await w.market.nodeHello(nodeKeyOf(1003), { info: INFO, pairingCodeHash: hashPairingCode('LIKE2-LIKE2') })
    expect(await codeOf(() => w.market.pmAdd(other, { pairing: 'LIKE2-LIKE2', like: a.id }))).toBe('MARKET_NOT_FOUND')
  })

  it('edits prices but never locked fields, and never the prices of stored machines', async () => {
    const pm = await addPm(w.market, prov)
    expect(await codeOf(() => w.market.pmEdit(prov, pm.id, { memory: 99999 } as any))).toBe('MARKET_BAD_INPUT')
    expect(await codeOf(() => w.market.pmEdit(prov, pm.id, { storagePeriod: 0 }))).toBe('MARKET_BAD_INPUT')
    const vm = await w.market.register(buyer, { config: 'small' })
    const stored = await w.market.store(buyer, vm.id, pm.id)
    const edited = await w.market.pmEdit(prov, pm.id, { storagePrice: 5000, speedPrice: 9, name: 'renamed' })
    expect(edited).toMatchObject({ storagePrice: 5000, speedPrice: 9, name: 'renamed', memory: INFO.memory })
    expect(w.market.db.get('vm', vm.id)!.storagePrice).toBe(stored.storagePrice)
    expect(w.market.db.get('vm', vm.id)!.runningPrice).toBe(stored.runningPrice)
    const other = await user(w.market, 'other2', 'provider')
    expect(await codeOf(() => w.market.pmEdit(other, pm.id, { storagePrice: 1 }))).toBe('MARKET_NOT_FOUND')
  })

  it('deletes an empty machine, refuses a busy one unless drained, then drains', async () => {
    const empty = await addPm(w.market, prov)
    expect(await w.market.pmDelete(prov, empty.id)).toEqual({ deleted: true, drainUntil: null })
    const pm = await addPm(w.market, prov)
    const vm = await w.market.register(buyer, { config: 'small' })
    await w.market.store(buyer, vm.id, pm.id)
    await w.market.start(buyer, vm.id)
    expect(await codeOf(() => w.market.pmDelete(prov, pm.id))).toBe('MARKET_PM_BUSY')
    const r = await w.market.pmDelete(prov, pm.id, { drainMs: DAY })
    expect(r).toEqual({ deleted: false, drainUntil: w.clock.t + DAY })
    expect((await w.market.log(buyer)).some((e) => e.type === 'pm.drain' && e.vmId === vm.id)).toBe(true)
    const vm2 = await w.market.register(buyer, { config: 'small' })
    expect(w.market.search(buyer, { vmId: vm2.id }).map((o) => o.pmId)).not.toContain(pm.id)
    expect(await codeOf(() => w.market.store(buyer, vm2.id, pm.id))).toBe('MARKET_NO_ROOM')
    expect(await w.market.drainPass()).toEqual({ evicted: [], removed: [] }) // before the deadline nothing goes
    w.clock.t += DAY
    const out = await w.market.drainPass()
    expect(out).toEqual({ evicted: [vm.id], removed: [pm.id] })
    expect(w.gateway.methods().slice(-2)).toEqual(['vm.stop', 'vm.delete'])
    expect(w.market.db.get('vm', vm.id)).toBeUndefined()
    expect(w.market.db.get('pm', pm.id)).toBeUndefined()
    // Its node is no longer known: the migration agent's destination list reports it with this code.
    expect(await codeOf(() => w.market.pmNodeKey(pm.id))).toBe('MARKET_NOT_FOUND')
    expect(w.market.db.get('nodes', pm.nodeKey)!.pmId).toBeNull()
    expect((await w.market.audit()).ok).toBe(true)
  })

  it('lists the marketplace with average resource prices', async () => {
    await addPm(w.market, prov, { sheet: { storagePrice: 1000 } })
    await addPm(w.market, prov, { sheet: { storagePrice: 3000 } })
    const { pms, averages } = w.market.providers()
    expect(pms).toHaveLength(2)
    expect(averages.storagePerDay).toBe(2000) // per 1024 MB per day
    expect(averages.machines).toBe(2)
  })

  it('records node events with origin and offline state', async () => {
    const pm = await addPm(w.market, prov)
    await w.market.nodeEvent(pm.nodeKey, { type: 'disk-low', message: 'less than 1 GB free' })
    await w.market.nodeOffline(pm.nodeKey)
    const log = await w.market.log(prov)
    expect(log.map((e) => e.type)).toEqual(expect.arrayContaining(['node.disk-low', 'node.offline']))
    expect(log.find((e) => e.type === 'node.disk-low')!.origin).toBe(`node:${pm.nodeKey.slice(0, 8)}`)
    expect(await codeOf(() => w.market.nodeEvent(pm.nodeKey, { type: 'BAD TYPE', message: 'x' }))).toBe(
      'MARKET_BAD_INPUT',
    )
  })

  it('connectspeed: a stated speed the measurement backs is kept; search and the marketplace sort by it', async () => {
    // 8 answers of 256 KiB (base64) in flight together, each after 200 ms: about 110 Mbit/s measured.
    w.gateway.speedtestDelayMs = 200
    const key = nodeKeyOf(1100)
    await w.market.nodeHello(key, { info: INFO, pairingCodeHash: hashPairingCode('SPEED-TEST1') })
    const err = await codeOf(() => w.market.pmAdd(prov, { pairing: 'SPEED-TEST1', connectSpeed: 100_000, ...SHEET }))
    expect(err).toBe('MARKET_BAD_INPUT')
    expect(w.gateway.methods().filter((m) => m === 'net.speedtest').length).toBe(8)
    const slow = await w.market.pmAdd(prov, { pairing: 'SPEED-TEST1', name: 'slow', connectSpeed: 10, ...SHEET })
    expect(slow.connectSpeed).toBe(10)
    expect(slow.connectMeasured).toBeGreaterThan(10)
    expect(slow.connectMeasured).toBeLessThan(100_000)
    w.gateway.speedtestDelayMs = 0
    const fast = await addPm(w.market, prov, { name: 'fast', sheet: { connectSpeed: 50 } as never })
    expect(fast.connectSpeed).toBe(50)
    expect(w.market.providers({ sort: 'connectspeed' }).pms.map((p) => p.name)).toEqual(['fast', 'slow'])
    const offers = w.market.search(buyer, { config: 'small', sort: 'connectspeed' })
    expect(offers.map((o) => [o.name, o.connectSpeed])).toEqual([
      ['fast', 50],
      ['slow', 10],
    ])
  })
})
