// What the hub tells an SCP destination about the origin (issue 11, item 2): the host key the origin
// node gave at its hello over its Noise-authenticated control@1, and the address the hub saw that
// connection come from rather than the address the origin claims, unless the hub only saw loopback.
// Real agent and market, real vmmp@1 over a loopback testnet; the provider commands go to a recording
// gateway (the addresses below are only compared, never dialed).
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import createTestnet from 'hyperdht/testnet.js'
import { FakeGateway, world, type World } from '../market/helpers.ts'
import { agentRig } from './agent-rig.ts'

const CLAIMED = '203.0.113.7'
const SEEN = '198.51.100.4'
const FINGERPRINT = 'SHA256:the-key-the-origin-said-at-hello'

class RecordingGateway extends FakeGateway {
  seen: string | null = null
  prepared!: Promise<any>
  private onPrepared!: (p: any) => void
  constructor() {
    super()
    this.prepared = new Promise((r) => (this.onPrepared = r))
  }
  observedHost(): string | null {
    return this.seen
  }
  override async command(nodeKey: string, method: string, params: any): Promise<any> {
    if (method === 'migration.prepare-origin') return { files: [], sshHost: CLAIMED, sshPort: 2222 }
    if (method === 'migration.prepare-dest') this.onPrepared(params)
    return super.command(nodeKey, method, params)
  }
}

let testnet: Awaited<ReturnType<typeof createTestnet>>
let w: World
beforeEach(async () => {
  testnet = await createTestnet(3)
  w = await world()
})
afterEach(async () => {
  await w.close()
  await testnet.destroy()
})

async function prepareDest(seen: string | null): Promise<any> {
  const gateway = new RecordingGateway()
  gateway.seen = seen
  w.market.ctx.gateway = gateway
  const info = { sshHost: CLAIMED, sshPort: 2222, sshFingerprint: FINGERPRINT }
  const rig = await agentRig(testnet, w, { method: 'SCP', gateway, heartbeatWindowMs: 60_000, originInfo: info })
  try {
    await w.market.migrate(rig.buyer, { vmId: rig.vmId, to: rig.to, method: 'SCP' })
    return await gateway.prepared
  } finally {
    await rig.close()
  }
}

describe('SCP origin as the hub knows it', () => {
  it('pins the host key from the hello and dials the address the hub saw, not the one claimed', async () => {
    const p = await prepareDest(SEEN)
    expect(p.origin).toMatchObject({ sshHost: SEEN, sshPort: 2222, sshFingerprint: FINGERPRINT })
    expect(p.secret.length).toBeGreaterThanOrEqual(16)
  })

  it("takes the origin's own address when the hub saw it only on loopback", async () => {
    const p = await prepareDest('127.0.0.1')
    expect(p.origin).toMatchObject({ sshHost: CLAIMED, sshFingerprint: FINGERPRINT })
  })
})
