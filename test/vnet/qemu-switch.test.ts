// Real guests (TCG) on one provider's switch: two machines of one network reach each other by their
// market addresses (DHCP from the switch), a machine of another buyer's network sees none of their
// frames, a guest that forges its MAC is dropped and counted, and an agent restart keeps the network.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NicConfig } from '../../src/hv/types.ts'
import { BOOT_MS, dhcpAddress, pingCount } from './guests.ts'
import { switchSite, type SwitchSite } from './switch-site.ts'

let site: SwitchSite

const NICS: Record<string, NicConfig> = {
  a: { mac: '02:00:00:00:00:0a', net: 'net-one', address: '10.42.0.2', prefix: 24 },
  b: { mac: '02:00:00:00:00:0b', net: 'net-one', address: '10.42.0.3', prefix: 24 },
  // Another buyer's network, with the very same address as `a`.
  c: { mac: '02:00:00:00:00:0c', net: 'net-two', address: '10.42.0.2', prefix: 24 },
}

let con: SwitchSite['con'] = {}

const addressOf = (name: string) => dhcpAddress(con[name])

const rx = async (name: string) => Number((await con[name].run('cat /sys/class/net/eth0/statistics/rx_packets')).trim())

beforeAll(async () => {
  site = await switchSite(NICS)
  con = site.con
}, 4 * BOOT_MS)

afterAll(async () => {
  await site?.close()
})

describe('one provider switch, real guests', () => {
  it(
    'every guest gets its market address from the switch by DHCP',
    async () => {
      expect(await addressOf('a')).toBe('10.42.0.2')
      expect(await addressOf('b')).toBe('10.42.0.3')
      expect(await addressOf('c')).toBe('10.42.0.2')
    },
    BOOT_MS,
  )

  it('two machines of a network ping each other, and a file sent with nc arrives intact', async () => {
    expect(await pingCount(con.a, '10.42.0.3', 3, 5)).toBe(3)
    expect(await pingCount(con.b, '10.42.0.2', 2, 5)).toBe(2)
    con.b.send('nc -l -p 5000 > /tmp/got')
    const sent = await con.a.run('dd if=/dev/urandom of=/tmp/f bs=1024 count=512 2>/dev/null; md5sum < /tmp/f')
    await con.a.run('until nc 10.42.0.3 5000 < /tmp/f; do sleep 0.2; done', 60_000)
    const got = await con.b.run('md5sum < /tmp/got; stat -c %s /tmp/got')
    expect(got).toBe(`${sent.trim()}\n524288\n`)
  }, 180_000)

  it("another buyer's machine on the same provider sees none of the network's frames", async () => {
    const before = await rx('c')
    const fromC = site.sw.stats('c')!.txFrames
    // ARP requests are broadcasts: they go to every port of net-one and must reach no other.
    await con.a.run('arping -c 3 -I eth0 10.42.0.3 >/dev/null; ping -c 3 10.42.0.3 >/dev/null', 60_000)
    await con.b.run('arping -c 3 -I eth0 10.42.0.2 >/dev/null', 60_000)
    expect(await rx('c')).toBe(before)
    expect(site.sw.stats('c')!.txFrames).toBe(fromC)
    // c has the same address as a, and b's address does not exist on its network.
    expect(await pingCount(con.c, '10.42.0.3', 2, 1)).toBe(0)
  }, 180_000)

  it('a guest that forges its MAC is dropped and counted, and is back once it stops', async () => {
    const spoofed = site.sw.stats('a')!.spoofed
    await con.a.run('ifconfig eth0 down; ifconfig eth0 hw ether 02:00:00:00:00:99; ifconfig eth0 10.42.0.2 up')
    expect(await pingCount(con.a, '10.42.0.3', 2, 1)).toBe(0)
    expect(site.sw.stats('a')!.spoofed).toBeGreaterThan(spoofed)
    await con.a.run('ifconfig eth0 down; ifconfig eth0 hw ether 02:00:00:00:00:0a; ifconfig eth0 10.42.0.2 up')
    expect(await pingCount(con.a, '10.42.0.3', 2, 5)).toBe(2)
  }, 180_000)

  it('a restarted agent (a new switch) finds the running guests and their network again', async () => {
    await site.restart()
    await site.svc.attached('a')
    await site.svc.attached('b')
    expect(await pingCount(con.a, '10.42.0.3', 2, 5)).toBe(2)
  }, 120_000)
})
