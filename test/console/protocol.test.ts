// console@1 end to end on a loopback HyperDHT testnet: a provider's ConsoleServer over the test
// driver, viewers dialing it with hub-signed tickets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import createTestnet from 'hyperdht/testnet.js'
import DHT from 'hyperdht'
import { ConsoleScreens } from '../../src/console/screens.ts'
import { ConsoleServer } from '../../src/console/server.ts'
import { ConsoleSession } from '../../src/console/client.ts'
import { signTicket } from '../../src/console/ticket.ts'
import { testHv, waitFor } from './helpers.ts'
import { PassThrough } from 'node:stream'
import { runTerminal } from '../../src/cli/console-commands.ts'

let testnet: Awaited<ReturnType<typeof createTestnet>>
let env: Awaited<ReturnType<typeof testHv>>
let screens: ConsoleScreens
let server: ConsoleServer
let viewerDht: DHT
const hub = DHT.keyPair()
const provider = DHT.keyPair()
const nodeKey = provider.publicKey.toString('hex')

beforeAll(async () => {
  testnet = await createTestnet(3)
  env = await testHv(['vm1', 'vm2'])
  await env.hv.start('vm1')
  screens = new ConsoleScreens(env.hv)
  server = new ConsoleServer({
    dht: testnet.createNode(),
    keyPair: provider,
    hubKey: hub.publicKey,
    screens,
    attachTimeoutMs: 2000,
  })
  await server.start()
  viewerDht = testnet.createNode()
})

afterAll(async () => {
  await server.close()
  screens.close()
  await env.cleanup()
  await testnet.destroy()
})

const viewer = () => viewerDht.defaultKeyPair.publicKey.toString('hex')
const ticketFor = (vmId: string, extra: object = {}) =>
  signTicket(hub.secretKey, { vmId, nodeKey, pmId: null, user: 'alice', clientKey: viewer(), ...extra }).ticket
const dial = (ticket: string, size = { cols: 80, rows: 24 }) =>
  ConsoleSession.dial({ dht: viewerDht, nodeKey: provider.publicKey, ticket, ...size })

function collect(s: ConsoleSession): { out: string } {
  const r = { out: '' }
  s.on('data', (b: Buffer) => {
    r.out += b.toString()
  })
  return r
}

describe('console@1', () => {
  it('a viewer with a ticket gets the screen and types into the guest', async () => {
    const s = await dial(ticketFor('vm1'))
    expect(s.vmId).toBe('vm1')
    const got = collect(s)
    await waitFor(() => got.out.includes('VIRTUOSO-GUEST-READY'), 5000, 'the screen repaint')
    s.write('echo over-console\r')
    await waitFor(() => got.out.includes('over-console\r\n/ # '), 5000, 'the echo')
    s.resize(100, 40)
    await waitFor(() => screens['screens'].get('vm1')?.cols === 100, 5000, 'the resize')
    await s.detach()
  })

  it('refuses forged, expired, wrong-machine and replayed tickets', async () => {
    const forged = signTicket(DHT.keyPair().secretKey, {
      vmId: 'vm1',
      nodeKey,
      pmId: null,
      user: 'mallory',
      clientKey: viewer(),
    }).ticket
    await expect(dial(forged)).rejects.toMatchObject({ code: 'NODE_TICKET_INVALID' })
    const expired = signTicket(
      hub.secretKey,
      { vmId: 'vm1', nodeKey, pmId: null, user: 'alice', clientKey: viewer() },
      Date.now() - 61_000,
    ).ticket
    await expect(dial(expired)).rejects.toMatchObject({ code: 'NODE_TICKET_EXPIRED' })
    const otherNode = signTicket(hub.secretKey, {
      vmId: 'vm1',
      nodeKey: 'cd'.repeat(32),
      pmId: null,
      user: 'alice',
      clientKey: viewer(),
    }).ticket
    await expect(dial(otherNode)).rejects.toMatchObject({ code: 'NODE_TICKET_INVALID' })
    // vm2 exists here but is not running: no console to attach to.
    await expect(dial(ticketFor('vm2'))).rejects.toMatchObject({ code: 'HV_BAD_STATE' })
    const once = ticketFor('vm1')
    const s = await dial(once)
    await expect(dial(once)).rejects.toMatchObject({ code: 'NODE_TICKET_REPLAYED' })
    await s.detach()
  })

  it('the CLI terminal relay: keys reach the guest, window resizes follow, Ctrl-] detaches', async () => {
    const s = await dial(ticketFor('vm1'))
    const stdin = new PassThrough()
    const stdout = Object.assign(new PassThrough(), { columns: 90, rows: 30 })
    let out = ''
    stdout.on('data', (b: Buffer) => {
      out += b.toString()
    })
    let resize: (() => void) | null = null
    const ended = runTerminal(s, {
      stdin,
      stdout,
      onResize: (fn) => {
        resize = fn
        return () => {
          resize = null
        }
      },
    })
    stdin.write('echo via-cli\r')
    await waitFor(() => out.includes('via-cli\r\n/ # '), 5000, 'the relayed echo')
    resize!()
    await waitFor(() => screens['screens'].get('vm1')?.cols === 90, 5000, 'the resize')
    stdin.write(Buffer.from([0x1d]))
    expect(await ended).toMatchObject({ code: 'NODE_CONSOLE_DETACHED' })
  })

  it('a second viewer takes over and the first is told', async () => {
    const one = await dial(ticketFor('vm1'))
    const ended = new Promise<any>((resolve) => one.once('end', resolve))
    const two = await dial(ticketFor('vm1'))
    expect(await ended).toMatchObject({ code: 'HV_CONSOLE_TAKEN_OVER' })
    const got = collect(two)
    two.write('echo second\r')
    await waitFor(() => got.out.includes('second\r\n'), 5000, 'the second viewer echo')
    const stopped = new Promise<any>((resolve) => two.once('end', resolve))
    await env.hv.stop('vm1')
    expect(await stopped).toMatchObject({ code: 'HV_CONSOLE_VM_STOPPED' })
  })
})
