// Console tickets: signed by the pinned hub over the ticket domain, for this node, machine and
// viewer, unexpired, used once even across a restart (issue 11, item 8).
import { describe, expect, it } from 'vitest'
import DHT from 'hyperdht'
import sodium from 'sodium-native'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { signTicket, verifyTicket, TicketVerifier, TICKET_TTL_MS } from '../../src/console/ticket.ts'
import { signMembership, verifyMembership } from '../../src/vnet/membership.ts'

const hub = DHT.keyPair()
const node = DHT.keyPair().publicKey.toString('hex')
const viewer = DHT.keyPair().publicKey.toString('hex')
const base = { vmId: 'vm1', nodeKey: node, pmId: 'pm1', user: 'alice', clientKey: viewer }

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
    const c = verifyTicket(ticket, { hubKey: hub.publicKey, clientKey: viewer, nodeKey: node, vmId: 'vm1' })
    expect(c).toMatchObject({ vmId: 'vm1', user: 'alice', nodeKey: node })
    expect(c.expires - Date.now()).toBeLessThanOrEqual(TICKET_TTL_MS)
  })

  it('refuses forged, tampered, wrong-node, wrong-machine and expired tickets', () => {
    const other = DHT.keyPair()
    const forged = signTicket(other.secretKey, base).ticket
    expect(code(() => verifyTicket(forged, { hubKey: hub.publicKey, clientKey: viewer, nodeKey: node }))).toBe(
      'NODE_TICKET_INVALID',
    )
    const { ticket } = signTicket(hub.secretKey, base)
    const [p, s] = ticket.split('.')
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString())
    const tampered = Buffer.from(JSON.stringify({ ...claims, vmId: 'vm2' })).toString('base64url') + '.' + s
    expect(code(() => verifyTicket(tampered, { hubKey: hub.publicKey, clientKey: viewer, nodeKey: node }))).toBe(
      'NODE_TICKET_INVALID',
    )
    expect(
      code(() => verifyTicket(ticket, { hubKey: hub.publicKey, clientKey: viewer, nodeKey: 'ab'.repeat(32) })),
    ).toBe('NODE_TICKET_INVALID')
    expect(
      code(() => verifyTicket(ticket, { hubKey: hub.publicKey, clientKey: viewer, nodeKey: node, vmId: 'vm2' })),
    ).toBe('NODE_TICKET_INVALID')
    const old = signTicket(hub.secretKey, base, Date.now() - TICKET_TTL_MS - 1).ticket
    expect(code(() => verifyTicket(old, { hubKey: hub.publicKey, clientKey: viewer, nodeKey: node }))).toBe(
      'NODE_TICKET_EXPIRED',
    )
    const forever = signTicket(hub.secretKey, { ...base, expires: Date.now() + 3600_000 }).ticket
    expect(code(() => verifyTicket(forever, { hubKey: hub.publicKey, clientKey: viewer, nodeKey: node }))).toBe(
      'NODE_TICKET_INVALID',
    )
    for (const junk of [undefined, '', 'a.b.c', 'x'.repeat(5000), 'abc.def']) {
      expect(code(() => verifyTicket(junk, { hubKey: hub.publicKey, clientKey: viewer, nodeKey: node }))).toBe(
        'NODE_TICKET_INVALID',
      )
    }
  })

  it('a ticket opens one session only, also after a restart of the node', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtuoso-nonces-'))
    try {
      const nonceFile = join(dir, 'used-tickets')
      const v = new TicketVerifier({ hubKey: hub.publicKey, nodeKey: node, nonceFile })
      await v.load()
      const { ticket } = signTicket(hub.secretKey, base)
      expect(v.accept(ticket, undefined, { clientKey: viewer }).vmId).toBe('vm1')
      await v.flushed()
      expect(await codeOf(() => v.accept(ticket, undefined, { clientKey: viewer }))).toBe('NODE_TICKET_REPLAYED')
      // A new verifier on the same file: what a restarted node builds.
      const again = new TicketVerifier({ hubKey: hub.publicKey, nodeKey: node, nonceFile })
      await again.load()
      expect(await codeOf(() => again.accept(ticket, undefined, { clientKey: viewer }))).toBe('NODE_TICKET_REPLAYED')
      expect(again.accept(signTicket(hub.secretKey, base).ticket, undefined, { clientKey: viewer }).vmId).toBe('vm1')
      await again.flushed()
      // Expired nonces are dropped when the file is read again.
      const later = new TicketVerifier({
        hubKey: hub.publicKey,
        nodeKey: node,
        nonceFile,
        clock: () => Date.now() + 120_000,
      })
      await later.load()
      expect(later.nonces.size).toBe(0)
      expect((await readFile(nonceFile, 'utf8')).trim()).toBe('')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('is bound to the viewer that asked for it', async () => {
    const v = new TicketVerifier({ hubKey: hub.publicKey, nodeKey: node })
    const { ticket } = signTicket(hub.secretKey, base)
    const thief = DHT.keyPair().publicKey.toString('hex')
    expect(await codeOf(() => v.accept(ticket, undefined, { clientKey: thief }))).toBe('NODE_TICKET_INVALID')
    expect(v.accept(ticket, undefined, { clientKey: viewer }).user).toBe('alice')
  })

  it('a hub signature over anything else is no ticket (domain prefix)', () => {
    const { ticket } = signTicket(hub.secretKey, base)
    const payload = Buffer.from(ticket.split('.')[0], 'base64url')
    // The same claims signed without the ticket domain, as any other hub signature would be made.
    const sig = Buffer.alloc(sodium.crypto_sign_BYTES)
    sodium.crypto_sign_detached(sig, payload, hub.secretKey)
    const bare = `${payload.toString('base64url')}.${sig.toString('base64url')}`
    expect(code(() => verifyTicket(bare, { hubKey: hub.publicKey, nodeKey: node }))).toBe('NODE_TICKET_INVALID')
    // A network membership the hub signed for this node does not open a console either.
    const membership = signMembership(hub.secretKey, { net: 'n1', nodeKey: node })
    expect(code(() => verifyTicket(membership, { hubKey: hub.publicKey, nodeKey: node }))).toBe('NODE_TICKET_INVALID')
    // And a ticket is no membership.
    expect(() => verifyMembership(ticket, { hubKey: hub.publicKey, nodeKey: node })).toThrow(/membership refused/)
  })
})

async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn()
    return 'none'
  } catch (err: any) {
    return err.code
  }
}
