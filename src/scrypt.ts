// The one scrypt wrapper: account passwords (market) and console passwords (provider) hash the same
// way. ~50 ms per hash here: slow for a guesser, unnoticed by a person. Parameters are stored with
// each hash, so they can be raised later.
import { scrypt as scryptCb, type ScryptOptions } from 'node:crypto'

export const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 }

export interface ScryptCost {
  N: number
  r: number
  p: number
}

export function scrypt(password: string, salt: Buffer, o: ScryptCost, keylen: number): Promise<Buffer> {
  // scrypt needs 128 * N * r bytes; twice that leaves room without letting a stored row ask for more.
  const opts: ScryptOptions = { N: o.N, r: o.r, p: o.p, maxmem: 256 * o.N * o.r }
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))),
  )
}
