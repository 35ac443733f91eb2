// The hub's rules for networks over a real market: a membership only for a provider that hosts a
// machine of the network, signed with the hub's key for that provider; the others are told.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import DHT from 'hyperdht'
import { addPm, user, world, type World } from '../market/helpers.ts'
import { VnetHub } from '../../src/vnet/hub.ts'
import { verifyMembership } from '../../src/vnet/membership.ts'

let w: World
const hubKeys = DHT.keyPair()

beforeEach(async () => {
  w = await world()
})
afterEach(async () => {
  await w.close()
})

describe('VnetHub', () => {
  it('signs a membership for a provider hosting a member, names the others and tells them', async () => {
    const alice = await user(w.market, 'alice', 'buyer')
    const prov = await user(w.market, 'prov', 'provider')
    const [a, b, c] = [await addPm(w.market, prov, { name: 'a' }), await addPm(w.market, prov, { name: 'b' })].concat(
      await addPm(w.market, prov, { name: 'c' }),
    )
    await w.market.credit('alice', 1_000_000)
    const v1 = await w.market.register(alice, { config: 'small' })
    const v2 = await w.market.register(alice, { config: 'small' })
    await w.market.store(alice, v1.id, a.id)
    await w.market.store(alice, v2.id, b.id)
    const told: Array<[string, string, any]> = []
    const hub = new VnetHub({
      market: w.market,
      secretKey: hubKeys.secretKey,
      command: async (k, m, p) => void told.push([k, m, p]),
    })
    const r = hub.join(b.nodeKey, { net: v1.netId })
    expect(r.peers).toEqual([a.nodeKey])
    const claims = verifyMembership(r.membership, { hubKey: hubKeys.publicKey, nodeKey: b.nodeKey, now: w.clock.t })
    expect(claims.net).toBe(v1.netId)
    expect(told).toEqual([[a.nodeKey, 'vnet.peers', { net: v1.netId, peers: [a.nodeKey, b.nodeKey] }]])
    expect(() =>
      verifyMembership(r.membership, { hubKey: hubKeys.publicKey, nodeKey: a.nodeKey, now: w.clock.t }),
    ).toThrow()
    expect(() => hub.join(c.nodeKey, { net: v1.netId })).toThrow(expect.objectContaining({ code: 'VNET_NOT_MEMBER' }))
    expect(() => hub.join(a.nodeKey, { net: 5 })).toThrow(expect.objectContaining({ code: 'VNET_BAD_INPUT' }))
  })
})
