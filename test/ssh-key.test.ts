// ssh2 makes a malformed ed25519 key about once in 256 (it strips the public key's leading zero
// bytes); 3000 keys would meet one with probability 1 - (255/256)^3000 > 0.9999. Every key we make
// must parse, both halves, and OpenSSH's public form must carry the whole 32-byte key.
import { expect, it } from 'vitest'
import ssh2 from 'ssh2'
import { newEd25519Key } from '../src/ssh-key.ts'

it('every ed25519 key made parses, private and public, with a 32-byte public key', () => {
  let bad = 0
  for (let i = 0; i < 3000; i++) {
    const k = newEd25519Key(i % 2 ? 'vm-1' : undefined)
    const priv = ssh2.utils.parseKey(k.private)
    const pub = ssh2.utils.parseKey(k.public)
    if (priv instanceof Error || pub instanceof Error) {
      bad++
      continue
    }
    const blob = (Array.isArray(pub) ? pub[0] : pub).getPublicSSH()
    // string "ssh-ed25519" (4 + 11 bytes), then string key (4 + 32 bytes)
    if (blob.length !== 51 || blob.readUInt32BE(15) !== 32) bad++
  }
  expect(bad).toBe(0)
})
