// A buyer's network across providers through the real product (issue 13, "Migration keeps the
// network"): a DHT bootstrap, the hub and three QEMU providers as processes on 127.0.0.1, two linux
// guests of one buyer on two of them. They ping each other by their market addresses and a file sent
// with busybox nc arrives intact; then one is suspended, moved by `virtuoso migrate` to the third
// provider and resumed there, while the other pings it every 0.2 s: it answers again at the same
// address with the same MAC, and the ping loss over the move is reported. The buyer does nothing
// for the network: the hub gives the new provider its membership, the switch announces the MAC.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { cli, startMarket, tempDir } from './harness.ts'
import { guestShell, type GuestShell } from './guest-shell.ts'
import { killProcessesNaming } from '../hv/strays.ts'

let root: Awaited<ReturnType<typeof tempDir>>
let market: Awaited<ReturnType<typeof startMarket>>
const home = (who: string) => join(root.path, 'home-' + who)
const as = (who: string, args: string[], input?: string) =>
  cli(home(who), [...args, '--json'], { env: market.env, input })
const PRICES = ['--speed-unit', '100', '--speed-price', '0.000001', '--memory-unit', '64', '--memory-price', '0.000001']
const PRICES2 = ['--running-period', '60', '--storage-unit', '1024', '--storage-price', '0.01', '--storage-period', '1']
const pms: string[] = []
const vms: Record<'a' | 'b', { id: string; address: string; mac: string }> = {} as never
const shells: Partial<Record<'a' | 'b', GuestShell>> = {}

/** The guest's shell once it answers, with its buyer-network card (eth0) configured by the switch. */
async function readyShell(vmId: string): Promise<GuestShell> {
  const s = await guestShell(home('alice'), market.env, vmId)
  for (let i = 0; ; i++) {
    try {
      await s.run('true', 3000)
      break
    } catch (err) {
      if (i > 60) throw err
    }
  }
  await s.run("while ! ifconfig eth0 | grep -q 'inet addr'; do sleep 0.2; done", 120_000)
  return s
}

/** Replies to `count` pings (busybox ping's summary line). */
async function pings(s: GuestShell, address: string, count: number): Promise<number> {
  const out = await s.run(`ping -c ${count} -W 2 ${address} | grep transmitted`, 60_000)
  const m = /(\d+) packets received/.exec(out)
  if (!m) throw new Error(`no ping summary: ${out}`)
  return Number(m[1])
}

beforeAll(async () => {
  root = await tempDir('virtuoso-e2e-vnet-')
  market = await startMarket(root.path, { providers: 3, hv: 'qemu' })
  for (const [u, t] of [
    ['prov', 'provider'],
    ['alice', 'buyer'],
  ]) {
    const signup = ['signup', '--user', u, '--type', t, '--email', `${u}@example.org`, '--password-stdin']
    await as(u, signup, `${u}-password\n`)
    await as(u, ['login', '--user', u, '--password-stdin'], `${u}-password\n`)
  }
  for (const [i, p] of market.providers.entries()) {
    const pm = await as('prov', ['pm', 'add', '--pairing', p.pairing, '--name', `p${i}`, ...PRICES, ...PRICES2])
    expect(pm.exitCode, pm.stdout).toBe(0)
    pms.push(pm.json.id)
  }
  await cli(home('op'), ['admin', 'credit', 'alice', '100', '--data', join(root.path, 'hub'), '--json'])
  for (const [name, i] of [
    ['a', 0],
    ['b', 1],
  ] as const) {
    const reg = await as('alice', ['register', '--memory', '128', '--hd', '2100', '--speed', '100', '--os', 'linux'])
    vms[name] = { id: reg.json.id, address: reg.json.address, mac: reg.json.mac }
    expect((await as('alice', ['store', reg.json.id, '--on', pms[i]])).json.state).toBe('stored')
    expect((await as('alice', ['start', reg.json.id])).json.state).toBe('started')
  }
  shells.a = await readyShell(vms.a.id)
  shells.b = await readyShell(vms.b.id)
}, 600_000)

afterAll(async () => {
  for (const s of Object.values(shells)) await s?.close().catch(() => {})
  for (const v of Object.values(vms)) await as('alice', ['stop', v.id]).catch(() => {})
  await market?.stop()
  await killProcessesNaming(root.path) // guests outlive their nodes by design
  await root?.remove()
}, 120_000)

describe("a buyer's network across providers, real processes", () => {
  it('two machines on two providers ping each other by address; a file sent with nc arrives intact', async () => {
    expect(await pings(shells.a!, vms.b.address, 3)).toBe(3)
    expect(await pings(shells.b!, vms.a.address, 3)).toBe(3)
    // The listener in the background (its stdin held open by sleep), so the console stays free.
    await shells.b!.run('(sleep 600 | nc -l -p 5000 > /tmp/got &)')
    const sent = await shells.a!.run('dd if=/dev/urandom of=/tmp/f bs=1024 count=512 2>/dev/null; md5sum < /tmp/f')
    await shells.a!.run(`until nc ${vms.b.address} 5000 < /tmp/f; do sleep 0.2; done`, 60_000)
    const got = await shells.b!.run(
      'until [ "$(stat -c %s /tmp/got)" = 524288 ]; do sleep 0.2; done; md5sum < /tmp/got',
      60_000,
    )
    const sum = (out: string) => /\b[0-9a-f]{32}\b/.exec(out)?.[0]
    expect(sum(got)).toBe(sum(sent))
  }, 180_000)

  it('migrated to a third provider, it keeps its MAC and address and its peer reaches it there', async () => {
    // A ping every 0.2 s runs through the whole move; its loss is reported below.
    await shells.a!.run(`ping -i 0.2 ${vms.b.address} > /tmp/ping.log 2>&1 & echo $! > /tmp/ping.pid`)
    await shells.b!.close()
    delete shells.b
    expect((await as('alice', ['suspend', vms.b.id])).json.state).toBe('suspended')
    const mig = await as('alice', ['migrate', vms.b.id, '--to', pms[2], '--method', 'RSYNC'])
    expect(mig.exitCode, mig.stdout + mig.stderr).toBe(0)
    const resumed = await as('alice', ['resume', vms.b.id])
    expect(resumed.json).toMatchObject({ state: 'started', pmId: pms[2], mac: vms.b.mac, address: vms.b.address })
    const t0 = Date.now()
    await shells.a!.run(`until ping -c 1 -W 1 ${vms.b.address} >/dev/null; do :; done`, 120_000)
    const reachedMs = Date.now() - t0
    const stats = await shells.a!.run(
      'P=$(cat /tmp/ping.pid); kill -INT $P; while kill -0 $P 2>/dev/null; do sleep 0.1; done; grep transmitted /tmp/ping.log',
    )
    const m = /(\d+) packets transmitted, (\d+) packets received/.exec(stats)
    expect(m, stats).not.toBeNull()
    const [sent, got] = [Number(m![1]), Number(m![2])]
    console.log(
      `vnet migration (real processes): peer answered ${reachedMs} ms after \`virtuoso resume\` returned on the ` +
        `new provider; ping every 0.2 s over suspend, migrate and resume: ${sent} sent, ${got} received, ` +
        `${sent - got} lost`,
    )
    expect(got).toBeGreaterThan(0)
    shells.b = await readyShell(vms.b.id)
    const card = await shells.b.run("ifconfig eth0 | grep -o -e 'HWaddr [0-9A-Fa-f:]*' -e 'inet addr:[0-9.]*'")
    expect(card.toLowerCase()).toContain(`hwaddr ${vms.b.mac}`)
    expect(card).toContain(`inet addr:${vms.b.address}`)
    expect(await pings(shells.b, vms.a.address, 3)).toBe(3)
  }, 400_000)
})
