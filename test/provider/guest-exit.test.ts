// A guest that powers itself off, end to end in one process (issue 11, item 11): a real Hub and a
// real ProviderAgent on a loopback testnet, the test driver's guest runs `poweroff` on its console.
// The provider notices, reports, and the hub's market row follows with the same version; the
// report survives a hub that was not reachable when the guest exited.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { untilChange } from '../market/helpers.ts'
import { alice, aliceVm, startHubAgent, type HubAgent } from './hub-agent.ts'

let w: HubAgent
beforeEach(async () => {
  w = await startHubAgent('virtuoso-exit-', { exitPollMs: 50 })
})
afterEach(async () => {
  await w.close()
})

const runningVm = () => aliceVm(w, { start: true })

async function powerOff(vmId: string): Promise<void> {
  const term = await w.hv.console(vmId)
  const exited = new Promise((r) => w.hv.once('exit', r))
  term.resume()
  term.write('poweroff\n')
  await exited
}

describe('a guest that stops by itself', () => {
  it('is stopped in the market at the provider version, and can be started again', async () => {
    const vmId = await runningVm()
    const m = w.hub.market
    const v = m.ctx.store.get('vm', vmId)!.version
    await powerOff(vmId)
    await untilChange(m, () => m.ctx.store.get('vm', vmId)!.state === 'stopped')
    expect(m.ctx.store.get('vm', vmId)!.version).toBe(v + 1)
    expect((await w.hv.get(vmId)).version).toBe(v + 1)
    expect((await m.log(alice)).some((e) => e.type === 'vm.exited' && e.vmId === vmId)).toBe(true)
    await m.start(alice, vmId)
    expect((await w.hv.get(vmId)).state).toBe('running')
  })

  it('is reported once the hub is back when it exited during an outage', async () => {
    const vmId = await runningVm()
    await w.hub.close()
    await powerOff(vmId)
    await w.restartHub()
    const m = w.hub.market
    await untilChange(m, () => m.ctx.store.get('vm', vmId)!.state === 'stopped')
    expect(m.ctx.store.get('vm', vmId)!.version).toBe((await w.hv.get(vmId)).version)
  })
})
