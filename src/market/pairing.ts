// One-time pairing codes: a provider node prints one, its owner types it into `pm add`, and the hub
// binds that node to the owner's account. The node's hello carries only the code's hash (the nodes
// table never holds the code); `pm add` carries the code itself, over the encrypted market@1
// connection, and the hub compares hashes: only who read the node's screen can claim it.
import { createHash, randomInt } from 'node:crypto'

// No 0/O, 1/I/L: codes are read off a screen and typed by people.
const ALPHABET = '23456789ABCDEFGHJKMNPQRSTUVWXYZ'

export function newPairingCode(): string {
  let s = ''
  for (let i = 0; i < 10; i++) s += ALPHABET[randomInt(ALPHABET.length)]
  return `${s.slice(0, 5)}-${s.slice(5)}`
}

export function normalizePairingCode(code: string): string {
  return code.toUpperCase().replace(/[^0-9A-Z]/g, '')
}

export function hashPairingCode(code: string): string {
  return createHash('sha256')
    .update('virtuoso-pairing:' + normalizePairingCode(code))
    .digest('hex')
}
