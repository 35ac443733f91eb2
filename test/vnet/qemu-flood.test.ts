// Real guests (TCG) on one provider's switch, issue 13 "bad input loses nothing": guest a floods c with
// pings (busybox ping at a 100 µs interval, 1400-byte frames) while b pings c and sends it a file with
// busybox nc. The switch keeps one bounded queue per input port at every output port and serves them in
// turn (src/vnet/switch.ts): when c's card pushes back, a's excess is dropped from a's own queue (a's
// `queueDrops`, printed; under TCG c kept up with a in our runs, 0 drops) and b's traffic still gets through.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NicConfig } from '../../src/hv/types.ts'
import { BOOT_MS, dhcpAddress, pingCount } from './guests.ts'
import { switchSite, type SwitchSite } from './switch-site.ts'

let site: SwitchSite

const NICS: Record<string, NicConfig> = {
  a: { mac: '02:00:00:00:02:0a', net: 'net-one', address: '10.42.0.2', prefix: 24 },
  b: { mac: '02:00:00:00:02:0b', net: 'net-one', address: '10.42.0.3', prefix: 24 },
  c: { mac: '02:00:00:00:02:0c', net: 'net-one', address: '10.42.0.4', prefix: 24 },
}

beforeAll(async () => {
  site = await switchSite(NICS)
  for (const name of Object.keys(NICS)) await dhcpAddress(site.con[name])
}, 4 * BOOT_MS)

afterAll(async () => {
  await site?.close()
})

describe('a flooding guest on one provider switch, real guests', () => {
  it('cannot starve the others: while a floods c, b pings c and a file b sends c arrives intact', async () => {
    const { con, sw } = site
    const a0 = sw.stats('a')!
    // The flood runs in the background of a's shell until the test kills it.
    await con.a.run('ping -q -s 1400 -i 0.0001 10.42.0.4 >/tmp/flood 2>&1 & echo started')
    // Wait, in a, until the flood is under way: 2000 frames out of its card.
    const tx = 'cat /sys/class/net/eth0/statistics/tx_packets'
    await con.a.run(`t=$(($(${tx}) + 2000)); while [ $(${tx}) -lt $t ]; do sleep 0.1; done`, 120_000)
    const b0 = sw.stats('b')!
    const pings = await pingCount(con.b, '10.42.0.4', 5, 10)
    con.c.send('nc -l -p 5000 > /tmp/got')
    const sent = await con.b.run('dd if=/dev/urandom of=/tmp/f bs=1024 count=256 2>/dev/null; md5sum < /tmp/f')
    await con.b.run('until nc 10.42.0.4 5000 < /tmp/f; do sleep 0.2; done', 120_000)
    const got = await con.c.run('md5sum < /tmp/got; stat -c %s /tmp/got', 60_000)
    const a1 = sw.stats('a')!
    const b1 = sw.stats('b')!
    await con.a.run('kill $!; wait', 30_000)
    console.log(
      `flood: b got ${pings}/5 pings back; a sent ${a1.rxFrames - a0.rxFrames} frames,` +
        ` ${a1.queueDrops - a0.queueDrops} dropped from a's queues;` +
        ` b sent ${b1.rxFrames - b0.rxFrames} frames, ${b1.queueDrops - b0.queueDrops} dropped`,
    )
    expect(got).toBe(`${sent.trim()}\n262144\n`)
    // The switch lost none of b's frames; a ping lost under the flood is lost in a guest's kernel.
    expect(b1.queueDrops - b0.queueDrops).toBe(0)
    expect(pings).toBeGreaterThan(0)
    expect(a1.rxFrames - a0.rxFrames).toBeGreaterThan(2000)
  }, 400_000)
})
