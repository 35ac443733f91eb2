// The destination list of a migration: each provider machine search offers, with the methods its node
// answered to QUERY, or the coded reason it has none (a destination that does not answer, or one
// that was deleted), and the answers reused while the node's channel stays open.
import { afterEach, beforeEach, expect, it } from 'vitest'
import { addPm, user, world, type World } from '../market/helpers.ts'
import { QueryCache, queryDestinations } from '../../src/vmmp/destinations.ts'
import { VmmpError, VMMP_CLOSED } from '../../src/vmmp/errors.ts'
import type { Identity, PmRow } from '../../src/market/types.ts'

let w: World
let buyer: Identity
let pms: PmRow[]
let vmId: string

beforeEach(async () => {
  w = await world()
  const prov = await user(w.market, 'prov', 'provider')
  buyer = await user(w.market, 'buyer', 'buyer')
  await w.market.credit('buyer', 1_000_000)
  pms = [await addPm(w.market, prov), await addPm(w.market, prov), await addPm(w.market, prov)]
  vmId = (await w.market.register(buyer, { config: 'small' })).id
  await w.market.store(buyer, vmId, pms[0].id)
})

afterEach(async () => {
  await w.close()
})

it('lists each offer with its methods or the coded reason it has none; answers are reused', async () => {
  const asked: string[] = []
  // The agent's QUERY over vmmp@1, answered here as the nodes would: pms[2]'s channel closes.
  const query = async (nodeKey: string) => {
    asked.push(nodeKey)
    if (nodeKey === pms[2].nodeKey) throw new VmmpError(VMMP_CLOSED, 'the channel closed')
    return ['rsync', 'scp']
  }
  const cache = new QueryCache(query, () => 'channel')
  const byPm = async () =>
    new Map((await queryDestinations(w.market, cache, buyer, vmId)).map((d) => [d.pmId, d] as const))
  const first = await byPm()
  expect([...first.keys()].sort()).toEqual([pms[1].id, pms[2].id].sort())
  expect(first.get(pms[1].id)).toMatchObject({ methods: ['rsync', 'scp'], error: null })
  expect(first.get(pms[2].id)).toMatchObject({ methods: [], error: { code: VMMP_CLOSED } })
  // pms[1]'s answer is reused; pms[2] gave none, so it is asked again.
  await byPm()
  expect(asked.filter((k) => k === pms[1].nodeKey)).toHaveLength(1)
  expect(asked.filter((k) => k === pms[2].nodeKey)).toHaveLength(2)
})
