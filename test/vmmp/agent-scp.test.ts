// What the hub tells an SCP destination about the origin (issue 11, item 2): the host key the origin
// node gave at its hello over its Noise-authenticated control@1, and the address the hub saw that
// connection come from rather than the address the origin claims, unless the hub only saw loopback;
// and the origin's one-time login. A destination from before SCP moved to OpenSSH is refused.
// Real agent and market, real vmmp@1 over a loopback testnet; the provider commands go to a recording
// gateway (the addresses below are only compared, never dialed).
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import createTestnet from 'hyperdht/testnet.js'
import { FakeGateway, world, type World } from '../market/helpers.ts'
import { agentRig, logUntil } from './agent-rig.ts'

const CLAIMED = '203.0.113.7'
const SEEN = '198.51.100.4'
const FINGERPRINT = 'SHA256:the-key-the-origin-said-at-hello'
const HOST_KEY = 'ssh-ed25519 AAAAthe-key-the-origin-said-at-hello'
const LOGIN = { sshUser: 'provider', sshKey: '-----BEGIN OPENSSH PRIVATE KEY-----one-time' }

class RecordingGateway extends FakeGateway {
  seen: string | null = null
  /** What the destination answers as `scp` (a node from before answers nothing). */
  scp: string | undefined = 'openssh'
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
    if (method === 'migration.prepare-origin') return { files: [], sshHost: CLAIMED, sshPort: 2222, ...LOGIN }
    if (method === 'migration.prepare-dest') {
      this.onPrepared(params)
      return { media: true, scp: this.scp }
    }
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

async function prepareDest(seen: string | null, scp?: string): Promise<{ params: any; lines: string[] }> {
  const gateway = new RecordingGateway()
  gateway.seen = seen
  gateway.scp = scp
  w.market.ctx.gateway = gateway
  const info = { sshHost: CLAIMED, sshPort: 2222, sshFingerprint: FINGERPRINT, sshHostKey: HOST_KEY }
  const { lines, log, seen: revert } = logUntil('reverted')
  const rig = await agentRig(testnet, w, { method: 'SCP', gateway, heartbeatWindowMs: 60_000, originInfo: info, log })
  try {
    await w.market.migrate(rig.buyer, { vmId: rig.vmId, to: rig.to, method: 'SCP' })
    const params = await gateway.prepared
    if (scp === undefined) await revert
    return { params, lines }
  } finally {
    await rig.close()
  }
}

describe('SCP origin as the hub knows it', () => {
  it('pins the host key from the hello and dials the address the hub saw, not the one claimed', async () => {
    const p = (await prepareDest(SEEN, 'openssh')).params
    expect(p.origin).toMatchObject({ sshHost: SEEN, sshPort: 2222, sshFingerprint: FINGERPRINT, sshHostKey: HOST_KEY })
    expect(p.origin).toMatchObject(LOGIN)
  })

  it("takes the origin's own address when the hub saw it only on loopback", async () => {
    const p = (await prepareDest('127.0.0.1', 'openssh')).params
    expect(p.origin).toMatchObject({ sshHost: CLAIMED, sshFingerprint: FINGERPRINT })
  })

  it('refuses a destination that still pulls SCP over ssh2 SFTP, with a clear reason', async () => {
    const { lines } = await prepareDest(SEEN, undefined)
    expect(lines.find((l) => l.includes('reverted'))).toMatch(/older Virtuoso .*upgrade it or use RSYNC/)
  })
})
