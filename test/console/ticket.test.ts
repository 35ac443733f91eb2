// Console tickets: signed by the pinned hub, for this node and machine, unexpired, used once.
import { describe, expect, it } from 'vitest'
import DHT from 'hyperdht'
import { signTicket, verifyTicket, TicketVerifier, TICKET_TTL_MS } from '../../src/console/ticket.ts'

const hub = DHT.keyPair()
const node = DHT.keyPair().publicKey.toString('hex')
const base = { vmId: 'vm1', nodeKey: node, pmId: 'pm1', user: 'alice' }

const code = (fn: () => unknown) => {
  try {
    fn()
    return 'none'
  } catch (err: any) {
    return err.code
  }
}

describe('console tickets', () => {
  it('a ticket signed by the hub verifies and carries its claims', () => {
    const { ticket } = signTicket(hub.secretKey, base)
    const c = verifyTicket(ticket, { hubKey: hub.publicKey, nodeKey: node, vmId: 'vm1' })
    expect(c).toMatchObject({ vmId: 'vm1', user: 'alice', nodeKey: node })
    expect(c.expires - Date.now()).toBeLessThanOrEqual(TICKET_TTL_MS)
  })

  it('refuses forged, tampered, wrong-node, wrong-machine and expired tickets', () => {
    const other = DHT.keyPair()
    const forged = signTicket(other.secretKey, base).ticket
    expect(code(() => verifyTicket(forged, { hubKey: hub.publicKey, nodeKey: node }))).toBe('NODE_TICKET_INVALID')
    const { ticket } = signTicket(hub.secretKey, base)
    const [p, s] = ticket.split('.')
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString())
    const tampered = Buffer.from(JSON.stringify({ ...claims, vmId: 'vm2' })).toString('base64url') + '.' + s
    expect(code(() => verifyTicket(tampered, { hubKey: hub.publicKey, nodeKey: node }))).toBe('NODE_TICKET_INVALID')
    expect(code(() => verifyTicket(ticket, { hubKey: hub.publicKey, nodeKey: 'ab'.repeat(32) }))).toBe(
      'NODE_TICKET_INVALID',
    )
    expect(code(() => verifyTicket(ticket, { hubKey: hub.publicKey, nodeKey: node, vmId: 'vm2' }))).toBe(
      'NODE_TICKET_INVALID',
    )
    const old = signTicket(hub.secretKey, base, Date.now() - TICKET_TTL_MS - 1).ticket
    expect(code(() => verifyTicket(old, { hubKey: hub.publicKey, nodeKey: node }))).toBe('NODE_TICKET_EXPIRED')
    const forever = signTicket(hub.secretKey, { ...base, expires: Date.now() + 3600_000 }).ticket
    expect(code(() => verifyTicket(forever, { hubKey: hub.publicKey, nodeKey: node }))).toBe('NODE_TICKET_INVALID')
    for (const junk of [undefined, '', 'a.b.c', 'x'.repeat(5000), 'abc.def']) {
      expect(code(() => verifyTicket(junk, { hubKey: hub.publicKey, nodeKey: node }))).toBe('NODE_TICKET_INVALID')
    }
  })

  it('a ticket opens one session only', () => {
    const v = new TicketVerifier({ hubKey: hub.publicKey, nodeKey: node })
    const { ticket } = signTicket(hub.secretKey, base)
    expect(v.accept(ticket).vmId).toBe('vm1')
    expect(code(() => v.accept(ticket))).toBe('NODE_TICKET_REPLAYED')
  })
})
