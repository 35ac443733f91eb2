// Who may talk to the hub as a node (issue 11, items 4 and 8's pairing codes): an unbound key gets
// one pairing window; within it the code cannot be changed and repeats log nothing; the code
// expires with the window; open windows are capped; wrong codes are limited per provider.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { codeOf, INFO, nodeKeyOf, SHEET, user, world, type World } from './helpers.ts'
import { hashPairingCode } from '../../src/market/pairing.ts'
import { MAX_PAIRING_FAILURES, MAX_UNBOUND_NODES, PAIRING_WINDOW_MS } from '../../src/market/node-window.ts'
import type { Identity } from '../../src/market/types.ts'

let w: World, prov: Identity
beforeEach(async () => {
  w = await world()
  prov = await user(w.market, 'prov', 'provider')
})
afterEach(async () => {
  await w.close()
})

const hello = (n: number, code: string) =>
  w.market.nodeHello(nodeKeyOf(n), { info: INFO, pairingCodeHash: hashPairingCode(code) })
const events = async () => (await w.market.logAll()).filter((e) => e.type === 'node.online').length

describe('pairing windows', () => {
  it('a repeat hello cannot change the code and logs nothing', async () => {
    await hello(1, 'AAAAA-AAAAA')
    const logged = await events()
    await hello(1, 'BBBBB-BBBBB')
    await hello(1, 'CCCCC-CCCCC')
    expect(await events()).toBe(logged)
    expect(await codeOf(() => w.market.pmAdd(prov, { pairing: 'BBBBB-BBBBB', ...SHEET }))).toBe(
      'MARKET_PAIRING_INVALID',
    )
    expect((await w.market.pmAdd(prov, { pairing: 'AAAAA-AAAAA', ...SHEET })).nodeKey).toBe(nodeKeyOf(1))
  })

  it('a code expires with its window; a hello after it opens a new one', async () => {
    await hello(2, 'DDDDD-DDDDD')
    w.clock.t += PAIRING_WINDOW_MS
    expect(await codeOf(() => w.market.pmAdd(prov, { pairing: 'DDDDD-DDDDD', ...SHEET }))).toBe(
      'MARKET_PAIRING_INVALID',
    )
    await hello(2, 'EEEEE-EEEEE')
    expect((await w.market.pmAdd(prov, { pairing: 'EEEEE-EEEEE', ...SHEET })).nodeKey).toBe(nodeKeyOf(2))
  })

  it('caps the windows open at once; bound nodes are never refused', async () => {
    await hello(3, 'FFFFF-FFFFF')
    await w.market.pmAdd(prov, { pairing: 'FFFFF-FFFFF', ...SHEET })
    for (let i = 0; i < MAX_UNBOUND_NODES; i++) await hello(1000 + i, 'GGGGG-GGGGG')
    expect(await codeOf(() => hello(5000, 'HHHHH-HHHHH'))).toBe('MARKET_BUSY')
    expect(await w.market.nodeHello(nodeKeyOf(3), { info: INFO, pairingCodeHash: null })).toMatchObject({
      pmId: expect.any(String),
    })
    // Once the windows close, the offline unbound rows are dropped and a new key gets one.
    for (let i = 0; i < MAX_UNBOUND_NODES; i++) await w.market.nodeOffline(nodeKeyOf(1000 + i))
    w.clock.t += PAIRING_WINDOW_MS
    await hello(5000, 'HHHHH-HHHHH')
    expect(w.market.db.rows('nodes').size).toBe(2)
  })

  it('limits wrong codes per provider, and a right one resets the count', async () => {
    await hello(4, 'JJJJJ-JJJJJ')
    for (let i = 0; i < MAX_PAIRING_FAILURES; i++)
      expect(await codeOf(() => w.market.pmAdd(prov, { pairing: `WRONG-${i}`, ...SHEET }))).toBe(
        'MARKET_PAIRING_INVALID',
      )
    // Even the right code is refused now: guessing is what is being slowed.
    expect(await codeOf(() => w.market.pmAdd(prov, { pairing: 'JJJJJ-JJJJJ', ...SHEET }))).toBe('MARKET_BUSY')
    w.clock.t += PAIRING_WINDOW_MS - 1
    expect(await codeOf(() => w.market.pmAdd(prov, { pairing: 'JJJJJ-JJJJJ', ...SHEET }))).toBe('MARKET_BUSY')
    w.clock.t += 1
    await hello(4, 'JJJJJ-JJJJJ') // its window closed meanwhile: a new one
    expect((await w.market.pmAdd(prov, { pairing: 'JJJJJ-JJJJJ', ...SHEET })).nodeKey).toBe(nodeKeyOf(4))
  })
})
