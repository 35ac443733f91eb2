// The flood test, shortened for CI (issue 11, "Proof"; the full run with figures is
// `npm run bench -- flood`). On a loopback testnet, one peer sends the hub malformed frames,
// oversized frames and logins at 1,000 a second while another client keeps searching. Bounded by
// counts: it ends when the flooder's last login is answered. Asserted: the searcher is served the
// whole time, the flooder is refused (rate limited or busy) with clear codes, each malformed
// connection is dropped and each oversized request refused, and the hub still serves afterwards.
// No time is asserted here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunningNode } from '../../src/cli/node.ts'
import { startPairedNode, type PairedNode } from './paired-node.ts'
import { MarketClient } from '../../src/client/market-client.ts'
import { flood } from '../bench/flood-peer.ts'

let testnet: PairedNode['testnet']
let node: RunningNode
let paired: PairedNode

beforeAll(async () => {
  paired = await startPairedNode('virtuoso-flood-')
  ;({ testnet, node } = paired)
  const m = node.hub!.market
  for (const u of ['alice', 'bob'])
    await m.signup({ username: u, type: 'buyer', email: `${u}@example.org`, password: 'correct horse' })
})
afterAll(async () => {
  await paired.close()
})

const client = async (login: boolean) => {
  const c = await MarketClient.connect({
    marketKey: Buffer.from(node.key, 'hex'),
    bootstrap: testnet.bootstrap,
    dht: testnet.createNode(),
  })
  if (login) c.token = (await c.call('login', { username: 'bob', password: 'correct horse' })).token
  return c
}

describe('flood', () => {
  it("keeps answering another client's search while one peer floods, and refuses the flooder", async () => {
    const searcher = await client(true)
    const plan = {
      marketKey: Buffer.from(node.key, 'hex'),
      bootstrap: testnet.bootstrap,
      logins: 300,
      loginRate: 1000,
      malformed: 5,
      oversized: 3,
      accounts: ['alice', 'prov'],
    }
    let done = false
    const flooding = flood(plan).finally(() => (done = true))
    let searches = 0
    while (!done) {
      const r = await searcher.call('search', { config: 'small' })
      expect(Array.isArray(r.results ?? r)).toBe(true)
      searches++
    }
    const counts = await flooding
    console.log(`flood (CI): ${searches} searches answered during`, JSON.stringify(counts))
    expect(searches).toBeGreaterThan(0)
    expect(counts.loginsSent).toBe(300)
    const refused = (counts.loginAnswers.NODE_RATE_LIMITED ?? 0) + (counts.loginAnswers.NODE_BUSY ?? 0)
    // The per-peer bucket lets its burst through (wrong passwords), and not much more.
    expect(refused).toBeGreaterThanOrEqual(300 - 40)
    expect(counts.loginAnswers.OK ?? 0).toBe(0)
    expect(counts.malformedDropped).toBe(5)
    expect(counts.oversizedRefused).toBe(3)
    // Still served, by a new connection: the flood left the hub working.
    const after = await client(true)
    expect(after.token).toMatch(/^[0-9a-f]{64}$/)
    await after.close()
    await searcher.close()
  })
})
