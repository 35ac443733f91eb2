// An SCP origin in a process of its own, for test/vmmp/scp-nonroot.test.ts, which starts it as another
// user: it grants one migration of the files named on its command line (in the directory given) and
// prints the login (or the error) as one JSON line; it revokes and exits when its stdin closes.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CredentialStore } from '../../src/vmmp/credentials.ts'
import { newEd25519Key } from '../../src/ssh-key.ts'

const [dir, keyDir, ...files] = process.argv.slice(2)
const host = newEd25519Key()
const hostKeyFile = join(keyDir, 'host_key')
await writeFile(hostKeyFile, host.private, { mode: 0o600 })
const log = (line: string) => process.stderr.write(line + '\n')
const store = new CredentialStore({ ssh: () => ({ host: '127.0.0.1', hostKeyFile }), log })
const answer = await store.grant({ migrationId: 'nonroot', dir, files, version: 1 }).then(
  (login) => ({ login, hostKey: host.public, uid: process.getuid?.() }),
  (err) => ({ error: { code: err.code, message: err.message } }),
)
process.stdout.write(JSON.stringify(answer) + '\n')
process.stdin.on('end', () => void store.closeAll().then(() => process.exit(0)))
process.stdin.resume()
