// The wiring, in one process on a loopback testnet: a node that is hub and provider (test driver).
// The buyer sets a console password and gets a ticket over market@1, views the console over
// console@1, and logs in with the real OpenSSH client at the port the hub publishes; the password
// becomes the guest's root password (a crypt hash in its seed) and is nowhere on disk in clear.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import type { RunningNode } from '../../src/cli/node.ts'
import { startPairedNode, type PairedNode } from '../hub/paired-node.ts'
import { MarketClient } from '../../src/client/market-client.ts'
import { ConsoleSession } from '../../src/console/client.ts'
import type { TicketAnswer } from '../../src/console/hub.ts'
import { waitFor } from './helpers.ts'
import { runSsh } from './ssh-client.ts'
import { execFileSync } from 'node:child_process'
import { readFile, readdir } from 'node:fs/promises'
import type { Hypervisor } from '../../src/hv/hypervisor.ts'
import type { TestDriver } from '../../src/hv/test/driver.ts'
import type { ConsoleService } from '../../src/console/service.ts'
import { checkScreenPassword } from '../../src/console/display-client.ts'

/** Every file under `root` whose bytes contain `text`. */
async function filesHolding(root: string, text: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue
    const p = join(e.parentPath, e.name)
    if ((await readFile(p).catch(() => Buffer.alloc(0))).includes(text)) out.push(p)
  }
  return out
}

let testnet: PairedNode['testnet']
let node: RunningNode
let paired: PairedNode
let client: MarketClient
let other: MarketClient
let vmId: string
let restart: () => Promise<void>

beforeAll(async () => {
  paired = await startPairedNode('virtuoso-console-node-')
  ;({ testnet, node } = paired)
  const m = node.hub!.market
  for (const u of ['alice', 'bob'])
    await m.signup({ username: u, type: 'buyer', email: `${u}@example.org`, password: 'correct horse' })
  await m.credit('alice', 10_000_000)
  const alice = { username: 'alice', type: 'buyer' as const }
  const vm = await m.register(alice, { config: 'small' })
  await m.store(alice, vm.id, paired.pmId)
  await m.start(alice, vm.id)
  vmId = vm.id
  restart = async () => {
    await m.stop(alice, vm.id)
    await m.start(alice, vm.id)
  }
  const login = async (u: string) =>
    MarketClient.connect({
      marketKey: Buffer.from(node.key, 'hex'),
      bootstrap: testnet.bootstrap,
      dht: testnet.createNode(),
      token: (await m.login({ username: u, password: 'correct horse' })).token,
    })
  client = await login('alice')
  other = await login('bob')
})

afterAll(async () => {
  await client?.close()
  await other?.close()
  await paired?.close()
})

describe('console through a running node', () => {
  it('ticket over market@1, console over console@1; another buyer gets no ticket', async () => {
    await expect(other.call('console.ticket', { vmId })).rejects.toMatchObject({ code: 'MARKET_NOT_FOUND' })
    const t = await client.call<TicketAnswer>('console.ticket', { vmId })
    expect(t.nodeKey).toBe(node.provider!.nodeKey)
    expect(t.ssh?.port).toBeGreaterThan(0)
    // The ticket is bound to the key that asked for it: a viewer on another key is refused.
    await expect(
      ConsoleSession.dial({ dht: testnet.createNode(), nodeKey: Buffer.from(t.nodeKey, 'hex'), ticket: t.ticket }),
    ).rejects.toMatchObject({ code: 'NODE_TICKET_INVALID' })
    const again = await client.call<TicketAnswer>('console.ticket', { vmId })
    const s = await ConsoleSession.dial({
      dht: client.dhtNode, // the CLI and the dashboard dial the provider from the node they asked the hub with
      nodeKey: Buffer.from(t.nodeKey, 'hex'),
      ticket: again.ticket,
    })
    let out = ''
    s.on('data', (b: Buffer) => {
      out += b.toString()
    })
    await waitFor(() => out.includes('/ # '), 5000, 'the prompt')
    s.write('echo "from""-node"\r')
    await waitFor(() => out.includes('from-node\r\n'), 5000, 'the echo')
    await s.detach()
  })

  it('console passwd through the hub, then the real ssh client logs in at the published port', async () => {
    await expect(client.call('console.passwd', { vmId, password: 'short' })).rejects.toMatchObject({
      code: 'NODE_CONSOLE_PASSWORD',
    })
    await client.call('console.passwd', { vmId, password: 'guest console pw' })
    const t = await client.call<TicketAnswer>('console.ticket', { vmId })
    const ssh = await runSsh({ port: t.ssh!.port, user: vmId, password: 'guest console pw' })
    try {
      await waitFor(() => ssh.out().includes('/ # '), 15_000, 'the prompt over ssh')
      ssh.proc.stdin.write('echo "over""-ssh"\r')
      await waitFor(() => ssh.out().includes('over-ssh\r\n'), 10_000, 'the ssh echo')
    } finally {
      await ssh.cleanup()
    }
  })

  it('the VNC screen asks for the console password, checked on the provider and counted with SSH failures', async () => {
    const svc = node.provider!['opts'].console as ConsoleService
    const ticket = () => client.call<TicketAnswer>('console.ticket', { vmId })
    const failures = () => svc.failures.users.count(vmId, Date.now())
    await checkScreenPassword(client.dhtNode!, await ticket(), 'guest console pw')
    await expect(checkScreenPassword(client.dhtNode!, await ticket(), 'not the password')).rejects.toMatchObject({
      code: 'NODE_CONSOLE_WRONG_PASSWORD',
    })
    expect(failures()).toBe(1)
    // The same table as the SSH console's: a guesser gains nothing by switching.
    expect(await svc.ssh!.checkPassword(vmId, 'not it either', '192.0.2.7')).toBeNull()
    expect(failures()).toBe(2)
    // The RFB stream is not opened for a wrong password (this driver has no VNC at all: the password
    // is what refuses here).
    await expect(
      ConsoleSession.dial({
        dht: client.dhtNode!,
        nodeKey: Buffer.from((await ticket()).nodeKey, 'hex'),
        ticket: (await ticket()).ticket,
        mode: 'vnc',
        password: 'wrong again',
      }),
    ).rejects.toMatchObject({ code: 'NODE_CONSOLE_WRONG_PASSWORD' })
    await checkScreenPassword(client.dhtNode!, await ticket(), 'guest console pw')
    expect(failures()).toBe(0)
    // A machine without a console password has no VNC screen: the error says how to set one.
    const alice = { username: 'alice', type: 'buyer' as const }
    const m = node.hub!.market
    const bare = await m.register(alice, { config: 'small' })
    await m.store(alice, bare.id, paired.pmId)
    await m.start(alice, bare.id)
    const t = await client.call<TicketAnswer>('console.ticket', { vmId: bare.id })
    await expect(checkScreenPassword(client.dhtNode!, t, 'guest console pw')).rejects.toMatchObject({
      code: 'NODE_CONSOLE_PASSWORD',
      message: expect.stringContaining(`virtuoso console passwd ${bare.id}`),
    })
    await m.stop(alice, bare.id)
    await m.delete(alice, bare.id) // its files would only slow the scan for clear passwords below
  })

  it("the console password becomes the guest's root password at its next start, hashed, never in clear", async () => {
    // Set by the test above; a start carries it into the guest's seed as a SHA-512 crypt hash.
    await restart()
    const hv = node.provider!['opts'].hv as Hypervisor
    const hash = (hv.driver as TestDriver).guest(vmId)?.passwordHash ?? ''
    expect(hash).toMatch(/^\$6\$[^$]+\$/)
    const salt = hash.split('$')[2]
    const again = execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: 'guest console pw\n' })
    expect(String(again).trim()).toBe(hash)
    expect(await filesHolding(paired.dir, 'guest console pw')).toEqual([])
  })
})
