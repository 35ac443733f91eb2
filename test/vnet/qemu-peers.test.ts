// Real guests (TCG) on two providers joined by vnet@1 over a loopback HyperDHT testnet: they ping
// each other by their market addresses and a file sent with busybox nc arrives intact; then one moves
// to a third provider (suspend, its files copied, resumed there, as a migration does) and the other
// reaches it at the same address. The hub's part (who gets a membership) is the real VnetHub rule,
// tested over a real market in hub.test.ts; here memberships come from the same signer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import createTestnet from 'hyperdht/testnet.js'
import DHT from 'hyperdht'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import type { NicConfig } from '../../src/hv/types.ts'
import { VnetService } from '../../src/vnet/service.ts'
import type { ConsoleSession } from '../hv/console.ts'
import { BOOT_MS, bootGuest, dhcpAddress, moveGuest, pingCount, shell } from './guests.ts'
import { member, testProvider, type TestProvider } from './provider-net.ts'
import { killProcessesNaming } from '../hv/strays.ts'

const NET = 'net-one'
const NICS: Record<string, NicConfig> = {
  a: { mac: '02:00:00:00:01:0a', net: NET, address: '10.42.0.2', prefix: 24 },
  b: { mac: '02:00:00:00:01:0b', net: NET, address: '10.42.0.3', prefix: 24 },
}

interface Site extends TestProvider {
  hv: Hypervisor
  svc: VnetService
}

let dir = ''
let testnet: Awaited<ReturnType<typeof createTestnet>>
const hub = DHT.keyPair()
const sites: Site[] = []
/** Where each machine runs: the hub's placement. */
const placement = new Map<string, Site>()
const con: Record<string, ConsoleSession> = {}

async function site(name: string): Promise<Site> {
  const p = await testProvider(testnet.createNode(), hub.publicKey)
  const hv = await Hypervisor.open({ driver: 'qemu', dir: join(dir, name), accel: 'tcg', stopTimeoutMs: 5_000 })
  const svc = new VnetService({ hv, switch: p.sw, peers: p.peers })
  const s: Site = { ...p, hv, svc }
  // The hub's answer to node.vnet.join (VnetHub.join): members of the network are where its machines are.
  svc.hubRequest = async (_method, params: any) => {
    const keys = [...new Set([...placement.values()].map((x) => x.key))]
    for (const other of sites) if (other !== s && keys.includes(other.key)) other.peers.setPeers(params.net, keys)
    return { membership: member(hub, params.net, s), peers: keys.filter((k) => k !== s.key) }
  }
  await svc.start()
  sites.push(s)
  return s
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'virtuoso-vnet-peers-'))
  testnet = await createTestnet(3)
  const [s1, s2] = [await site('p1'), await site('p2')]
  await site('p3')
  for (const [name, s] of [
    ['a', s1],
    ['b', s2],
  ] as const) {
    placement.set(name, s)
    await bootGuest(s.hv, name, NICS[name])
  }
  for (const name of ['a', 'b']) con[name] = await shell(placement.get(name)!.hv, name)
}, 3 * BOOT_MS)

afterAll(async () => {
  for (const c of Object.values(con)) c.close()
  for (const s of sites) {
    s.svc.close()
    await s.close()
    await s.hv.close()
  }
  await testnet?.destroy()
  await killProcessesNaming(dir)
  await rm(dir, { recursive: true, force: true })
})

describe('a network across providers, real guests', () => {
  it('two machines on two providers ping each other, and a file sent with nc arrives intact', async () => {
    expect(await dhcpAddress(con.a)).toBe('10.42.0.2')
    expect(await dhcpAddress(con.b)).toBe('10.42.0.3')
    expect(await pingCount(con.a, '10.42.0.3', 3)).toBe(3)
    con.b.send('nc -l -p 5000 > /tmp/got')
    const sent = await con.a.run('dd if=/dev/urandom of=/tmp/f bs=1024 count=512 2>/dev/null; md5sum < /tmp/f')
    await con.a.run('until nc 10.42.0.3 5000 < /tmp/f; do sleep 0.2; done', 60_000)
    expect(await con.b.run('md5sum < /tmp/got; stat -c %s /tmp/got')).toBe(`${sent.trim()}\n524288\n`)
  }, 180_000)

  it('after one moves to a third provider, the other reaches it at the same address', async () => {
    const [from, to] = [placement.get('b')!, sites[2]]
    // A ping every 0.2 s runs through the whole move; its loss is reported below.
    con.a.send('ping -i 0.2 10.42.0.3 > /tmp/ping.log 2>&1 &')
    con.b.close()
    delete con.b
    await moveGuest(from.hv, to.hv, 'b', NICS.b, from.key)
    placement.set('b', to)
    const t0 = Date.now()
    await to.hv.resume('b')
    await con.a.run('until ping -c 1 -W 1 10.42.0.3 >/dev/null; do :; done', 60_000)
    const reachedMs = Date.now() - t0
    const stats = await con.a.run('kill -INT %1; wait; grep transmitted /tmp/ping.log')
    console.log(`vnet move: reached again ${reachedMs} ms after resume on the new provider; ping: ${stats.trim()}`)
    expect(await pingCount(con.a, '10.42.0.3', 3)).toBe(3)
    con.b = await shell(to.hv, 'b')
    expect((await con.b.run("ifconfig eth0 | grep -o 'HWaddr [0-9A-Fa-f:]*'")).trim().toLowerCase()).toBe(
      `hwaddr ${NICS.b.mac}`,
    )
    expect(await pingCount(con.b, '10.42.0.2', 2)).toBe(2)
  }, 240_000)
})
