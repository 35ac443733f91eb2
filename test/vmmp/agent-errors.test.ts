// The hub's migration agent runs each migration in the background (issue 11, item 15): a step that
// throws there, even the revert itself (here: the hub's disk fails), is logged and never becomes an
// unhandled rejection that could end the hub. Real market, real vmmp@1 over a loopback testnet.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import createTestnet from 'hyperdht/testnet.js'
import { world, type World } from '../market/helpers.ts'
import { agentRig, logUntil } from './agent-rig.ts'

let testnet: Awaited<ReturnType<typeof createTestnet>>
let w: World
const unhandled: unknown[] = []
const onUnhandled = (err: unknown) => unhandled.push(err)

beforeEach(async () => {
  testnet = await createTestnet(3)
  w = await world()
  process.on('unhandledRejection', onUnhandled)
})
afterEach(async () => {
  process.off('unhandledRejection', onUnhandled)
  await w.close()
  await testnet.destroy()
})

describe('migration agent', () => {
  it('logs a revert that throws instead of leaving an unhandled rejection', async () => {
    const { lines, log, seen: logged } = logUntil('stays open')
    const rig = await agentRig(testnet, w, { method: 'RSYNC', log })
    // The origin refuses to prepare; by then the hub's disk has failed, so the revert throws too.
    let release!: () => void
    w.gateway.gate = new Promise<void>((r) => (release = r))
    w.gateway.failNext.add('migration.prepare-origin')
    const row = await w.market.migrate(rig.buyer, { vmId: rig.vmId, to: rig.to })
    expect(row.phase).toBe('preparing')
    w.diskFault = new Error('EIO: the disk failed')
    release()
    w.gateway.gate = null
    await logged
    expect(lines.find((l) => l.includes('stays open'))).toMatch(/disk|storage/i)
    expect(unhandled).toEqual([])
    await rig.close()
  })
})
