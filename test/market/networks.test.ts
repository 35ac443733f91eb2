// The buyers' networks in the market: names and subnets checked, a default network made on first
// use, one address and one market-unique MAC per machine, kept through store and migration, the
// assignment sent to the provider, networks private to their owner and not deletable while used.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { addPm, codeOf, user, world, type World } from './helpers.ts'
import type { Identity } from '../../src/market/types.ts'

let w: World
let alice: Identity
let bob: Identity

beforeEach(async () => {
  w = await world()
  alice = await user(w.market, 'alice', 'buyer')
  bob = await user(w.market, 'bob', 'buyer')
})
afterEach(async () => {
  await w.close()
})

describe('networks', () => {
  it('a first machine makes the default network; addresses count up from .2, MACs are unique', async () => {
    const v1 = await w.market.register(alice, { config: 'small' })
    const v2 = await w.market.register(alice, { config: 'small' })
    const v3 = await w.market.register(bob, { config: 'small' })
    expect([v1.address, v2.address, v3.address]).toEqual(['10.42.0.2', '10.42.0.3', '10.42.0.2'])
    const macs = new Set([v1.mac, v2.mac, v3.mac])
    expect(macs.size).toBe(3)
    for (const mac of macs) expect(mac).toMatch(/^02(:[0-9a-f]{2}){5}$/)
    const nets = w.market.netList(alice)
    expect(nets.map((n) => [n.name, n.subnet, n.members.length])).toEqual([['default', '10.42.0.0/24', 2]])
    expect(w.market.netList(bob)[0].id).not.toBe(nets[0].id)
  })

  it('creates, lists and deletes a named network; register --net joins it', async () => {
    const net = await w.market.netCreate(alice, { name: 'lab', subnet: '192.168.7.0/29' })
    expect(net.subnet).toBe('192.168.7.0/29')
    const vms = []
    for (let i = 0; i < 5; i++) vms.push(await w.market.register(alice, { config: 'small', net: 'lab' }))
    expect(vms.map((v) => v.address)).toEqual([
      '192.168.7.2',
      '192.168.7.3',
      '192.168.7.4',
      '192.168.7.5',
      '192.168.7.6',
    ])
    expect(await codeOf(() => w.market.register(alice, { config: 'small', net: 'lab' }))).toBe('MARKET_NET_FULL')
    expect(await codeOf(() => w.market.netDelete(alice, 'lab'))).toBe('MARKET_NET_IN_USE')
    for (const v of vms) await w.market.delete(alice, v.id)
    // A freed address is given again.
    expect((await w.market.register(alice, { config: 'small', net: 'lab' })).address).toBe('192.168.7.2')
  })

  it('refuses bad names and subnets, duplicates, unknown and foreign networks', async () => {
    await w.market.netCreate(alice, { name: 'lab' })
    expect(await codeOf(() => w.market.netCreate(alice, { name: 'lab' }))).toBe('MARKET_NET_EXISTS')
    for (const subnet of ['8.8.8.0/24', '10.42.0.1/24', '10.0.0.0/8', '10.1.0.0/30', 'x', '10.300.0.0/24'])
      expect(await codeOf(() => w.market.netCreate(alice, { name: 'n2', subnet }))).toBe('MARKET_BAD_INPUT')
    expect(await codeOf(() => w.market.netCreate(alice, { name: 'Bad Name' }))).toBe('MARKET_BAD_INPUT')
    // The guests' uplink network (10.0.2.0/24) is refused, whether inside, equal or around it.
    for (const subnet of ['10.0.2.0/24', '10.0.2.8/29', '10.0.0.0/16'])
      await expect(w.market.netCreate(alice, { name: 'up', subnet })).rejects.toMatchObject({
        code: 'MARKET_BAD_INPUT',
        message: expect.stringContaining("overlaps 10.0.2.0/24, the guests' uplink network"),
      })
    expect((await w.market.netCreate(alice, { name: 'up', subnet: '10.0.3.0/24' })).subnet).toBe('10.0.3.0/24')
    expect(await codeOf(() => w.market.register(alice, { config: 'small', net: 'nope' }))).toBe('MARKET_NOT_FOUND')
    expect(await codeOf(() => w.market.register(bob, { config: 'small', net: 'lab' }))).toBe('MARKET_NOT_FOUND')
    expect(await codeOf(() => w.market.netDelete(bob, 'lab'))).toBe('MARKET_NOT_FOUND')
    const prov = await user(w.market, 'prov', 'provider')
    expect(await codeOf(() => w.market.netCreate(prov, { name: 'x' }))).toBe('MARKET_FORBIDDEN')
  })

  it('the provider gets the card with the machine; the MAC and address stay through a migration', async () => {
    const prov = await user(w.market, 'prov', 'provider')
    const a = await addPm(w.market, prov, { name: 'a' })
    const b = await addPm(w.market, prov, { name: 'b' })
    await w.market.credit('alice', 1_000_000)
    const vm = await w.market.register(alice, { config: 'small' })
    await w.market.store(alice, vm.id, a.id)
    const create = w.gateway.calls.find((c) => c.method === 'vm.create')!
    const net = w.market.netList(alice)[0]
    expect(create.params.config.nic).toEqual({ mac: vm.mac, net: net.id, address: vm.address, prefix: 24 })
    const mig = await w.market.beginMigration(alice, { vmId: vm.id, to: b.id, method: 'RSYNC' })
    await w.market.commitMigration(mig.id, vm.version + 2)
    const after = w.market.ctx.store.get('vm', vm.id)!
    expect([after.pmId, after.mac, after.address, after.netId]).toEqual([b.id, vm.mac, vm.address, net.id])
    const listed = w.market.machines(alice)
    expect(listed.type === 'buyer' && listed.vms[0].netName).toBe('default')
  })

  it('the MAC counter and the networks survive a restart; a deleted machine never frees its MAC', async () => {
    const v1 = await w.market.register(alice, { config: 'small' })
    await w.market.delete(alice, v1.id)
    await w.reopen()
    const v2 = await w.market.register(alice, { config: 'small' })
    expect(v2.mac).not.toBe(v1.mac)
    expect(v2.address).toBe(v1.address)
    expect(w.market.netList(alice).map((n) => n.name)).toEqual(['default'])
  })

  it('a network reaches only its owner on the change feed', async () => {
    const seen: Array<{ table: string; audience?: string[] }> = []
    w.market.on('change', (c) => seen.push(c))
    await w.market.netCreate(alice, { name: 'lab' })
    expect(seen.find((c) => c.table === 'networks')?.audience).toEqual(['alice'])
  })
})
