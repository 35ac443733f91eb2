// The node's traffic reports (src/vnet/traffic-report.ts) from a real switch: counters seen from the
// guest, only what changed since the hub took it, at most MAX_PER_REPORT machines a report, one report
// at a time, and a failed report sent again (with the newer values) on the next tick.
import { describe, expect, it } from 'vitest'
import { Switch } from '../../src/vnet/switch.ts'
import { ETH_HEADER, macBytes } from '../../src/vnet/frame.ts'
import { guestTraffic, MAX_PER_REPORT, TrafficReporter } from '../../src/vnet/traffic-report.ts'
import type { VmTraffic } from '../../src/market/traffic.ts'

const mac = (n: number) =>
  `02:00:00:00:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`
const sink = () => ({ write: () => true, onDrain: () => {} })

function frame(dst: string, src: string): Buffer {
  const f = Buffer.alloc(ETH_HEADER + 46)
  macBytes(dst).copy(f, 0)
  macBytes(src).copy(f, 6)
  f.writeUInt16BE(0x0800, 12)
  return f
}

function lan(n: number) {
  const sw = new Switch()
  const ids = Array.from({ length: n }, (_, i) => `vm${i}`)
  ids.forEach((id, i) => sw.addPort({ id, net: 'n1', kind: 'guest', mac: mac(i + 1), sink: sink() }))
  const sent: Array<{ vms: VmTraffic[] }> = []
  let fail: Error | null = null
  const reporter = new TrafficReporter({
    read: () => ids.flatMap((id) => (sw.stats(id) ? [guestTraffic(id, sw.stats(id)!)] : [])),
    send: async (p) => {
      if (fail) throw fail
      sent.push(p)
      return {}
    },
  })
  return { sw, ids, sent, reporter, setFail: (e: Error | null) => (fail = e) }
}

describe('traffic reports', () => {
  it('sends what changed since the hub took it, seen from the guest', async () => {
    const { sw, sent, reporter } = lan(3)
    await reporter.tick()
    expect(sent[0].vms.map((t) => t.vmId)).toEqual(['vm0', 'vm1', 'vm2']) // first report: all of them
    sw.input('vm0', frame(mac(2), mac(1))) // vm0 -> vm1
    sw.input('vm0', frame(mac(2), mac(9))) // a forged source: dropped and counted
    await reporter.tick()
    expect(sent[1].vms).toEqual([
      { vmId: 'vm0', sentFrames: 2, sentBytes: 120, recvFrames: 0, recvBytes: 0, dropped: 1 },
      { vmId: 'vm1', sentFrames: 0, sentBytes: 0, recvFrames: 1, recvBytes: 60, dropped: 0 },
    ])
    await reporter.tick()
    expect(sent).toHaveLength(2) // nothing changed: nothing sent
  })

  it('sends at most MAX_PER_REPORT machines a report, the rest next time', async () => {
    const { sent, reporter } = lan(MAX_PER_REPORT + 5)
    await reporter.tick()
    await reporter.tick()
    expect(sent.map((r) => r.vms.length)).toEqual([MAX_PER_REPORT, 5])
  })

  it('a report the hub did not take is sent again, with the newer values', async () => {
    const { sw, sent, reporter, setFail } = lan(1)
    await reporter.tick()
    setFail(new Error('hub away'))
    sw.input('vm0', frame(mac(2), mac(1)))
    await reporter.tick()
    sw.input('vm0', frame(mac(2), mac(1)))
    setFail(null)
    await reporter.tick()
    expect(sent.map((r) => r.vms[0].sentFrames)).toEqual([0, 2])
  })

  it('a machine gone from the switch is forgotten; back again, it is sent whole', async () => {
    const { sw, sent, reporter } = lan(1)
    await reporter.tick()
    sw.removePort('vm0')
    await reporter.tick()
    sw.addPort({ id: 'vm0', net: 'n1', kind: 'guest', mac: mac(1), sink: sink() })
    await reporter.tick()
    expect(sent.map((r) => r.vms.map((t) => t.vmId))).toEqual([['vm0'], ['vm0']])
  })
})
