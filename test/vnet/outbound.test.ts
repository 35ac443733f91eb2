// The guests' uplink card on real QEMU (TCG): with the provider's --guest-outbound nat a guest
// reaches a service on the provider's loopback (QEMU's NAT, 10.0.2.2); with none (the default) the
// same request fails. In both, the provider reaches a guest port through hv.guestPort (a forward on
// its own loopback), which is what `virtuoso pipe/forward/ssh` ride on. Loopback services only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createServer, connect, type Server } from 'node:net'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hypervisor } from '../../src/hv/hypervisor.ts'
import type { VmConfig } from '../../src/hv/types.ts'
import type { ConsoleSession } from '../hv/console.ts'
import { BOOT_MS, shell } from './guests.ts'

let dir = ''
let web: Server
let port = 0
const hvs: Record<string, Hypervisor> = {}
const con: Record<string, ConsoleSession> = {}
const config = (n: number): VmConfig => ({
  memory: 128,
  hd: 2100,
  speed: 1000,
  os: 'linux',
  nic: { mac: `02:00:00:00:02:0${n}`, net: 'net-out', address: `10.42.0.${n + 1}`, prefix: 24 },
})

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'virtuoso-outbound-'))
  web = createServer((s) => s.end('HTTP/1.0 200 OK\r\nContent-Length: 14\r\n\r\nprovider-local'))
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()))
  port = (web.address() as { port: number }).port
  await Promise.all(
    (['nat', 'none'] as const).map(async (outbound, i) => {
      const hv = await Hypervisor.open({
        driver: 'qemu',
        dir: join(dir, outbound),
        accel: 'tcg',
        stopTimeoutMs: 5_000,
        qemu: { outbound },
      })
      hvs[outbound] = hv
      await hv.create('g', config(i + 1))
      await hv.register('g')
      await hv.start('g')
      con[outbound] = await shell(hv, 'g')
      await con[outbound].run("while ! ifconfig eth1 | grep -q 'inet addr'; do sleep 0.2; done", BOOT_MS)
    }),
  )
}, BOOT_MS + 60_000)

afterAll(async () => {
  for (const c of Object.values(con)) c.close()
  for (const hv of Object.values(hvs)) {
    await hv.stop('g').catch(() => {})
    await hv.close()
  }
  web?.close()
  await rm(dir, { recursive: true, force: true })
}, 60_000)

const fetchFromGuest = (c: ConsoleSession) =>
  // busybox nc (its static wget crashes in glibc's resolver); -w: the 'none' case would wait for ever.
  c.run(`echo | nc -w 3 10.0.2.2 ${port} > /tmp/got 2>&1; echo "rc=$?"; tail -n 1 /tmp/got; echo`, 30_000)

describe('guest outbound', () => {
  it('nat: the guest reaches a service on the provider loopback', async () => {
    const out = await fetchFromGuest(con.nat)
    expect(out).toMatch(/rc=0/)
    expect(out).toMatch(/provider-local/)
  })

  it('none: the same request fails', async () => {
    const out = await fetchFromGuest(con.none)
    expect(out).not.toMatch(/provider-local/)
    expect(out).toMatch(/rc=[1-9]/)
  })

  it('either way the provider reaches a guest port through its loopback forward', async () => {
    for (const [outbound, c] of Object.entries(con)) {
      await c.run(`(echo from-${outbound} | nc -l -p 9000 >/dev/null 2>&1 &)`)
      await c.run("until netstat -ltn | grep -q ':9000 '; do sleep 0.1; done")
      const hostPort = await hvs[outbound].guestPort('g', 9000)
      expect(await hvs[outbound].guestPort('g', 9000)).toBe(hostPort) // made once per QEMU process
      const got = await new Promise<string>((resolve, reject) => {
        let text = ''
        const s = connect(hostPort, '127.0.0.1')
        s.on('data', (b) => (text += b.toString()))
        s.on('end', () => resolve(text))
        s.on('error', reject)
      })
      expect(got.trim()).toBe(`from-${outbound}`)
    }
  })
})
