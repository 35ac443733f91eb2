// The hub's console methods over a real Market with the in-memory gateway: tickets only for the
// owner of a started machine, signed by the hub and naming its provider node; passwords forwarded.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import DHT from 'hyperdht'
import { consoleMethods, consoleTicket, consolePasswd, type ConsoleHub } from '../../src/console/hub.ts'
import { verifyTicket } from '../../src/console/ticket.ts'
import { addPm, codeOf, user, world, type World } from '../market/helpers.ts'

let w: World
let hub: ConsoleHub
const VIEWER = DHT.keyPair().publicKey.toString('hex')
beforeEach(async () => {
  w = await world()
  hub = { market: w.market, keyPair: DHT.keyPair(), gateway: w.gateway, viewerKey: VIEWER }
})
afterEach(async () => {
  await w.close()
})

async function startedVm() {
  const provider = await user(w.market, 'prov', 'provider')
  const pm = await addPm(w.market, provider, {
    info: { sshPort: 2222, sshFingerprint: 'SHA256:abc', sshHost: '127.0.0.1' },
  })
  const buyer = await user(w.market, 'alice', 'buyer')
  const other = await user(w.market, 'bob', 'buyer')
  await w.market.credit('alice', 10_000_000)
  const vm = await w.market.register(buyer, { config: 'small' })
  await w.market.store(buyer, vm.id, pm.id)
  return { provider, pm, buyer, other, vm }
}

describe('console.ticket', () => {
  it('gives the owner of a started machine a ticket its provider accepts', async () => {
    const { pm, buyer, vm } = await startedVm()
    expect(await codeOf(() => consoleTicket(hub, buyer, { vmId: vm.id }))).toBe('MARKET_ACTION_NOT_ALLOWED') // stored, not started
    await w.market.start(buyer, vm.id)
    const r = await consoleTicket(hub, buyer, { vmId: vm.id })
    expect(r).toMatchObject({
      vmId: vm.id,
      nodeKey: pm.nodeKey,
      ssh: { port: 2222, fingerprint: 'SHA256:abc', user: vm.id, host: '127.0.0.1' },
    })
    const c = verifyTicket(r.ticket, {
      hubKey: hub.keyPair.publicKey,
      nodeKey: pm.nodeKey,
      vmId: vm.id,
      clientKey: VIEWER,
      now: w.clock.t,
    })
    expect(c.user).toBe('alice')
    // Bound to the key that asked: another viewer's connection can't use it.
    expect(c.clientKey).toBe(VIEWER)
    const stranger = DHT.keyPair().publicKey.toString('hex')
    const opts = { hubKey: hub.keyPair.publicKey, nodeKey: pm.nodeKey, clientKey: stranger, now: w.clock.t }
    expect(await codeOf(() => verifyTicket(r.ticket, opts))).toBe('NODE_TICKET_INVALID')
  })

  it("a buyer can't get a ticket for another's machine, nor a provider for any", async () => {
    const { provider, other, buyer, vm } = await startedVm()
    await w.market.start(buyer, vm.id)
    expect(await codeOf(() => consoleTicket(hub, other, { vmId: vm.id }))).toBe('MARKET_NOT_FOUND')
    expect(await codeOf(() => consoleTicket(hub, provider, { vmId: vm.id }))).toBe('MARKET_FORBIDDEN')
    expect(await codeOf(() => consoleTicket(hub, null, { vmId: vm.id }))).toBe('MARKET_AUTH_REQUIRED')
    expect(consoleMethods['console.ticket'].auth).toBe('buyer')
  })

  it('refuses while the provider node is offline', async () => {
    const { pm, buyer, vm } = await startedVm()
    await w.market.start(buyer, vm.id)
    w.gateway.offline.add(pm.nodeKey)
    expect(await codeOf(() => consoleTicket(hub, buyer, { vmId: vm.id }))).toMatch(/OFFLINE/)
  })
})

describe('console.passwd', () => {
  it('forwards the password to the provider, for the owner only, at least 8 characters', async () => {
    const { pm, other, buyer, vm } = await startedVm()
    expect(await codeOf(() => consolePasswd(hub, buyer, { vmId: vm.id, password: 'short' }))).toBe(
      'NODE_CONSOLE_PASSWORD',
    )
    expect(await codeOf(() => consolePasswd(hub, other, { vmId: vm.id, password: 'long enough' }))).toBe(
      'MARKET_NOT_FOUND',
    )
    expect(await consolePasswd(hub, buyer, { vmId: vm.id, password: 'long enough' })).toEqual({ ok: true })
    const call = w.gateway.calls.find((c) => c.method === 'console.passwd')
    expect(call).toEqual({
      nodeKey: pm.nodeKey,
      method: 'console.passwd',
      params: { vmId: vm.id, password: 'long enough' },
    })
  })
})
