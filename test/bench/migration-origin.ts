// The benchmark's origin provider, in its own process as in real life: a HyperDHT node serving
// blocks@1 and an ssh2 server serving the migration SFTP share. The parent grants migrations over IPC.
import DHT from 'hyperdht'
import Protomux from 'protomux'
import { serveBlocks, type Authorization } from '../../src/vmmp/blocks.ts'
import { CredentialStore } from '../../src/vmmp/credentials.ts'
import { startMigrationSshServer } from '../../src/vmmp/methods/scp-host.ts'

const grants = new Map<string, Authorization>()
const credentials = new CredentialStore()
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
    const ssh = await startMigrationSshServer({ store: credentials })
    process.send!({
      type: 'ready',
      key: keyPair.publicKey.toString('hex'),
      sshPort: ssh.port,
      fingerprint: ssh.fingerprint,
    })
  } else if (m.type === 'grant') {
    grants.set(m.id, m.auth)
    credentials.grant({ migrationId: m.id, secret: m.secret, ...m.auth })
    process.send!({ type: 'granted', id: m.id })
  } else if (m.type === 'stop') process.exit(0)
})
process.on('disconnect', () => process.exit(0))
