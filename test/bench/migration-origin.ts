// The benchmark's origin provider, in its own process as in real life: a HyperDHT node serving
// blocks@1 and SCP's one-time sshd shares (OpenSSH). The parent grants migrations over IPC.
import DHT from 'hyperdht'
import Protomux from 'protomux'
import { serveBlocks, type Authorization } from '../../src/vmmp/blocks.ts'
import { mkdtemp, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CredentialStore } from '../../src/vmmp/credentials.ts'
import { keyFingerprint } from '../../src/vmmp/methods/scp.ts'
import { newEd25519Key } from '../../src/ssh-key.ts'

const grants = new Map<string, Authorization>()
const hostKey = newEd25519Key()
const keyDir = await mkdtemp(join(tmpdir(), 'bench-origin-'))
const hostKeyFile = join(keyDir, 'host_key')
await writeFile(hostKeyFile, hostKey.private, { mode: 0o600 })
const credentials = new CredentialStore({ ssh: () => ({ host: '127.0.0.1', hostKeyFile }) })
const stop = async () => {
  await credentials.closeAll()
  await rm(keyDir, { recursive: true, force: true })
  process.exit(0)
}
process.on('message', async (m: any) => {
  if (m.type === 'start') {
    const dht = new DHT({ bootstrap: m.bootstrap, host: '127.0.0.1' })
    await dht.ready()
    const keyPair = DHT.keyPair()
    const server = dht.createServer((socket) => {
      socket.on('error', () => {})
      serveBlocks(Protomux.from(socket), { authorize: (id) => grants.get(id) ?? null })
    })
    await server.listen(keyPair)
    process.send!({
      type: 'ready',
      key: keyPair.publicKey.toString('hex'),
      hostKey: hostKey.public,
      fingerprint: keyFingerprint(hostKey.public),
    })
  } else if (m.type === 'grant') {
    grants.set(m.id, m.auth)
    const login = m.scp ? await credentials.grant({ migrationId: m.id, ...m.auth }) : null
    process.send!({ type: 'granted', id: m.id, login })
  } else if (m.type === 'stop') await stop()
})
process.on('disconnect', () => void stop())
