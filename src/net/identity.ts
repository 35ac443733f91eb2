// A node's identity: its Noise key pair, kept in DATA/identity.json (mode 0600) so that a hub's
// market key (its public key) survives restarts.
import { readFile, chmod } from 'node:fs/promises'
import { privateDir, writeOnceAtomic } from '../secret-file.ts'
import { join } from 'node:path'
import DHT, { type KeyPair } from 'hyperdht'
import { nodeError } from './errors.ts'

export async function loadIdentity(dir: string): Promise<KeyPair> {
  await privateDir(dir)
  const file = join(dir, 'identity.json')
  let text: string | null = null
  try {
    text = await readFile(file, 'utf8')
  } catch (err: any) {
    if (err.code !== 'ENOENT') throw err
  }
  if (text !== null) {
    try {
      const j = JSON.parse(text)
      const kp = { publicKey: Buffer.from(j.publicKey, 'hex'), secretKey: Buffer.from(j.secretKey, 'hex') }
      if (kp.publicKey.length !== 32 || kp.secretKey.length !== 64) throw new Error('wrong key length')
      return kp
    } catch (err) {
      throw nodeError.config(
        `${file} is damaged (${(err as Error).message}); restore it from a backup, or move it away to make a ` +
          `new identity (a hub gets a new market key)`,
      )
    }
  }
  const kp = DHT.keyPair()
  const made =
    JSON.stringify({ publicKey: kp.publicKey.toString('hex'), secretKey: kp.secretKey.toString('hex') }) + '\n'
  const kept = await writeOnceAtomic(file, made)
  await chmod(file, 0o600)
  return kept === made ? kp : loadIdentity(dir) // another caller made it first: use theirs
}

export function parseKey(text: string | undefined, what = 'market key'): Buffer {
  if (!text || !/^[0-9a-f]{64}$/i.test(text.trim())) throw nodeError.config(`bad ${what}: expected 64 hex characters`)
  return Buffer.from(text.trim(), 'hex')
}
