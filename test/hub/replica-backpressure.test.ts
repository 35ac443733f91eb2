// replica@1 heeds backpressure (issue 11, item 5): a subscriber whose connection stops reading is
// paused instead of being fed into an ever-growing send buffer, and when it reads again it catches
// up from the change log, missing nothing. The real ReplicaServer, Market, RpcChannel and protomux,
// over a stream pair whose reading end the test can stop (UDX on loopback drains into the reader's
// memory whether it reads or not, so the hub never sees a full buffer there).
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
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

describe('replica@1 backpressure', () => {
  it('pauses a subscriber that stops reading and catches it up from the log when it reads again', async () => {
    const bob = await user(w.market, 'bob', 'buyer')
    const [hubEnd, clientEnd] = pipePair()
    const replica = new ReplicaServer(w.market)
    const server: RpcChannel = new RpcChannel(Protomux.from(hubEnd as unknown as NodeDuplex), {
      protocol: PROTOCOLS.replica,
      handler: (method, params) => replica.handle(server, method, params, bob),
      onDrain: () => replica.drained(server),
    })
    const seen: Change[] = []
    let wake: () => void = () => {}
    const client = new RpcChannel(Protomux.from(clientEnd as unknown as NodeDuplex), {
      protocol: PROTOCOLS.replica,
      onEvent: (name, rows) => {
        if (name === 'changes') seen.push(...(rows as Change[]))
        wake()
      },
    })
    await client.request('subscribe', { since: -1 })
    clientEnd.pause()
    // Credits to bob, each a change he may see (his balance), until the hub finds his buffer full.
    let writes = 0
    while (replica.paused === 0) {
      await w.market.credit('bob', 1)
      if (++writes > 20_000) throw new Error('the hub never paused a subscriber that does not read')
    }
    for (let i = 0; i < 50; i++) await w.market.credit('bob', 1) // these reach the log only
    const buffered = hubEnd.buffered
    const head = w.market.db.seq('changes')
    clientEnd.resume()
    const last = () => Math.max(-1, ...seen.map((r) => r.seq))
    while (last() < head) await new Promise<void>((r) => (wake = r))
    // Every change arrived once, in order, and bob's row ends at his balance (a replayed change
    // carries the row's current value, so the catch-up shows the latest balance).
    const seqs = seen.map((r) => r.seq)
    expect(new Set(seqs).size).toBe(seqs.length)
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    const mine = seen.filter((r) => r.table === 'users' && r.key === 'bob')
    expect((mine.at(-1)!.value as { balance: number }).balance).toBe(writes + 50)
    expect(buffered).toBeLessThan(256 * 1024)
    replica.close()
  })
})
