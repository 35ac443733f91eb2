// A replica that comes back after the hub's tables were replaced (admin import, issue 11 item 13) asks
// from a change seq the new log does not have, or is too far behind: it gets a snapshot of what it may
// see instead of silence, and live changes after it. The real ReplicaServer, Market and RpcChannel.
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

it('a subscribe from a seq past the log (tables imported since) gets a snapshot, then live changes', async () => {
  const bob = await user(w.market, 'bob', 'buyer')
  await w.market.credit('bob', 5)
  const [hubEnd, clientEnd] = pipePair()
  const replica = new ReplicaServer(w.market)
  const server: RpcChannel = new RpcChannel(Protomux.from(hubEnd as unknown as NodeDuplex), {
    protocol: PROTOCOLS.replica,
    handler: (method, params) => replica.handle(server, method, params, bob),
    onDrain: () => replica.drained(server),
  })
  const got: Array<{ kind: string; rows: Change[] }> = []
  let wake: () => void = () => {}
  const client = new RpcChannel(Protomux.from(clientEnd as unknown as NodeDuplex), {
    protocol: PROTOCOLS.replica,
    onEvent: (kind, rows) => {
      got.push({ kind, rows: rows as Change[] })
      wake()
    },
  })
  const past = w.market.db.seq('changes') + 1000 // what the replica saw of the old tables
  const answer = (await client.request('subscribe', { since: past })) as { seq: number; snapshot: boolean }
  expect(answer.snapshot).toBe(true)
  while (!got.some((g) => g.kind === 'snapshot')) await new Promise<void>((r) => (wake = r))
  const snap = got.filter((g) => g.kind === 'snapshot').flatMap((g) => g.rows)
  expect(snap.find((r) => r.table === 'users' && r.key === 'bob')?.value).toMatchObject({ balance: 5 })
  await w.market.credit('bob', 2)
  const isLive = (g: { kind: string; rows: Change[] }) =>
    g.kind === 'changes' && g.rows.some((r) => r.table === 'users' && (r.value as { balance?: number })?.balance === 7)
  while (!got.some(isLive)) await new Promise<void>((r) => (wake = r))
  replica.close()
})
