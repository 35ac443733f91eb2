// replica@1's subscribe from 'now': no snapshot (a snapshot reads every event and ledger entry the user
// may see), only the changes that commit after it, in order. `virtuoso migrate` and `store` follow one
// operation this way. The real ReplicaServer, Market and RpcChannel over an in-memory stream pair.
import { afterEach, beforeEach, expect, it } from 'vitest'
import Protomux from 'protomux'
import type { Duplex as NodeDuplex } from 'node:stream'
import { ReplicaServer } from '../../src/hub/replica-server.ts'
import { RpcChannel } from '../../src/net/rpc.ts'
import { PROTOCOLS } from '../../src/net/protocols.ts'
import type { Change } from '../../src/market/types.ts'
import { user, world, type World } from '../market/helpers.ts'
import { pipePair } from './pipe-pair.ts'

let w: World
beforeEach(async () => {
  w = await world()
})
afterEach(async () => {
  await w.close()
})

it("sends no snapshot and every change after 'now'", async () => {
  const bob = await user(w.market, 'bob', 'buyer')
  await w.market.credit('bob', 5) // before: a snapshot would carry it
  const [hubEnd, clientEnd] = pipePair()
  const replica = new ReplicaServer(w.market)
  const server: RpcChannel = new RpcChannel(Protomux.from(hubEnd as unknown as NodeDuplex), {
    protocol: PROTOCOLS.replica,
    handler: (method, params) => replica.handle(server, method, params, bob),
  })
  const events: { name: string; rows: Change[] }[] = []
  let wake: () => void = () => {}
  const client = new RpcChannel(Protomux.from(clientEnd as unknown as NodeDuplex), {
    protocol: PROTOCOLS.replica,
    onEvent: (name, rows) => {
      events.push({ name, rows: rows as Change[] })
      wake()
    },
  })
  const head = w.market.seq
  const r = await client.request<{ seq: number; snapshot: boolean }>('subscribe', { since: 'now' })
  expect(r).toEqual({ seq: head, snapshot: false })
  await w.market.credit('bob', 7)
  await w.market.credit('bob', 1)
  const balance = () => events.flatMap((e) => e.rows).filter((c) => c.table === 'users' && c.key === 'bob')
  while (balance().length < 2) await new Promise<void>((res) => (wake = res))
  expect(events.every((e) => e.name === 'changes')).toBe(true)
  expect(balance().map((c) => (c.value as { balance: number }).balance)).toEqual([12, 13])
  expect(Math.min(...events.flatMap((e) => e.rows).map((c) => c.seq))).toBeGreaterThan(head)
  replica.close()
})
