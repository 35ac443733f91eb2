// The buyers' network: guest-to-guest round trip and throughput between two real TCG guests on one
// provider (through its switch only) and across two providers (switch, vnet@1 over HyperDHT, switch),
// measured in the same run on the same guests; then how soon a moved machine is reached again at its
// new provider. Providers, DHT and guests run on 127.0.0.1.
import createTestnet from 'hyperdht/testnet.js'
import DHT from 'hyperdht'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import type { NicConfig } from '../../src/hv/types.ts'
import { VnetService } from '../../src/vnet/service.ts'
import type { ConsoleSession } from '../hv/console.ts'
import { bootGuest, dhcpAddress, moveGuest, shell } from '../vnet/guests.ts'
import { member, testProvider, type TestProvider } from '../vnet/provider-net.ts'
import type { BenchRow } from './table.ts'
import { forwardBench } from './forward-bench.ts'
import { killProcessesNaming } from '../hv/strays.ts'

const NET = 'bench-net'
const MB = 16

interface Site extends TestProvider {
  hv: Hypervisor
  svc: VnetService
}

/** Average RTT (ms) of 20 pings from `from` to `to`. */
async function rtt(from: ConsoleSession, to: string): Promise<number> {
  const out = await from.run(`ping -c 20 -i 0.2 ${to} | tail -n 1`, 60_000)
  const m = /= [\d.]+\/([\d.]+)\//.exec(out)
  if (!m) throw new Error(`no ping summary: ${out}`)
  return Number(m[1])
}

/** MiB/s of MB MiB sent with busybox nc, timed on the host around the guest's command. */
async function throughput(from: ConsoleSession, to: ConsoleSession, address: string): Promise<number> {
  to.send('nc -l -p 5001 > /dev/null')
  const t0 = process.hrtime.bigint()
  await from.run(
    `until dd if=/dev/zero bs=65536 count=${MB * 16} 2>/dev/null | nc ${address} 5001; do :; done`,
    300_000,
  )
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  return Math.round((MB / s) * 100) / 100
}

/** The guests' network, then `virtuoso forward` beside `ssh -L` (forward-bench.ts). */
export async function vnetBench(): Promise<BenchRow[]> {
  return [...(await guestBench()), ...(await forwardBench())]
}

async function guestBench(): Promise<BenchRow[]> {
  const dir = await mkdtemp(join(tmpdir(), 'virtuoso-vnet-bench-'))
  const testnet = await createTestnet(3)
  const hub = DHT.keyPair()
  const sites: Site[] = []
  const where = new Map<string, Site>()
  const cons: ConsoleSession[] = []
  try {
    for (const name of ['p1', 'p2', 'p3']) {
      const p = await testProvider(testnet.createNode(), hub.publicKey)
      const hv = await Hypervisor.open({ driver: 'qemu', dir: join(dir, name), accel: 'tcg', stopTimeoutMs: 5_000 })
      const svc = new VnetService({ hv, switch: p.sw, peers: p.peers })
      const s: Site = { ...p, hv, svc }
      svc.hubRequest = async (_m, params: any) => {
        const keys = [...new Set([...where.values()].map((x) => x.key))]
        for (const o of sites) if (o !== s && keys.includes(o.key)) o.peers.setPeers(params.net, keys)
        return { membership: member(hub, params.net, s), peers: keys.filter((k) => k !== s.key) }
      }
      await svc.start()
      sites.push(s)
    }
    const nic = (i: number): NicConfig => ({
      mac: `02:00:00:00:02:0${i}`,
      net: NET,
      address: `10.42.0.${i}`,
      prefix: 24,
    })
    const guests: Array<[string, Site, number]> = [
      ['a', sites[0], 2],
      ['b', sites[0], 3],
      ['c', sites[1], 4],
    ]
    for (const [id, s] of guests) where.set(id, s)
    for (const [id, s, i] of guests) {
      await bootGuest(s.hv, id, nic(i))
    }
    const con: Record<string, ConsoleSession> = {}
    for (const [id, s] of guests) {
      con[id] = await shell(s.hv, id)
      cons.push(con[id])
      await dhcpAddress(con[id])
    }
    const same = { rtt: await rtt(con.a, '10.42.0.3'), tput: await throughput(con.a, con.b, '10.42.0.3') }
    const cross = { rtt: await rtt(con.a, '10.42.0.4'), tput: await throughput(con.a, con.c, '10.42.0.4') }
    // c moves to the third provider as a migration does while a pings it every 0.2 s: how long after
    // its resume there a answers again (the issue asks for 2 s at most), and how many pings the move lost.
    con.a.send('ping -i 0.2 10.42.0.4 > /tmp/ping.log 2>&1 &')
    con.c.close()
    cons.splice(cons.indexOf(con.c), 1)
    await moveGuest(sites[1].hv, sites[2].hv, 'c', nic(4), sites[1].key)
    where.set('c', sites[2])
    const t0 = performance.now()
    await sites[2].hv.resume('c')
    await con.a.run('until ping -c 1 -W 1 10.42.0.4 >/dev/null; do :; done', 120_000)
    const reachedMs = Math.round(performance.now() - t0)
    const pings = await con.a.run('kill -INT %1; wait; grep transmitted /tmp/ping.log')
    const [, sent, got] = /(\d+) packets transmitted, (\d+) packets received/.exec(pings) ?? []
    return [
      {
        name: 'guest-to-guest ping RTT, avg of 20, across two providers (vnet@1)',
        value: cross.rtt,
        unit: 'ms',
        peer: same.rtt,
        peerName: 'two guests on one provider',
        target: 'cross-provider within a few ms of one provider',
      },
      {
        name: `guest-to-guest TCP (busybox nc, ${MB} MiB), across two providers`,
        value: cross.tput,
        unit: 'MiB/s',
        peer: same.tput,
        peerName: 'guests on one provider',
        target: 'TCG guests bound both; cross-provider near one provider',
      },
      {
        name: `a peer answers again after its machine moved to a third provider (ms after its resume there; ${
          Number(sent) - Number(got)
        } of ${sent} pings at 0.2 s lost over suspend, copy and resume)`,
        value: reachedMs,
        unit: 'ms',
        target: 'within 2000 ms, the buyer doing nothing',
      },
    ]
  } finally {
    for (const c of cons) c.close()
    for (const s of sites) {
      s.svc.close()
      await s.close()
      for (const vm of await s.hv.list()) await s.hv.stop(vm.id).catch(() => {})
      await s.hv.close()
    }
    await testnet.destroy()
    await killProcessesNaming(dir)
    await rm(dir, { recursive: true, force: true })
  }
}
