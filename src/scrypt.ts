// The one scrypt wrapper: account passwords (market) and console passwords (provider) hash the same
// way. The cost follows current guidance (N = 2^17, r = 8, p = 1: 128 MiB, 0.64 s at a load average of 7,
// 2.4 s under heavier load here), so every place that hashes runs behind a gate (hub/client-limits.ts).
// Parameters are stored with each hash: a hash made at a lower cost is redone at the next successful
// login (needsRehash). The cost is an option of whatever hashes (Market.open, HubOptions, NodeOptions,
// ConsolePasswords), so tests and the simulation pass a low one explicitly; nothing reads it from the
// environment.
import { scrypt as scryptCb, type ScryptOptions } from 'node:crypto'
import { VirtuosoError } from './errors.ts'

export interface ScryptCost {
  N: number
  r: number
  p: number
}

export const DEFAULT_SCRYPT_N = 2 ** 17
/** The lowest cost a node accepts (tests and the demo); a production node keeps the default. */
export const MIN_SCRYPT_N = 2 ** 10
export const MAX_SCRYPT_N = 2 ** 20
export const SCRYPT_KEYLEN = 32
export const SCRYPT: ScryptCost & { keylen: number } = { N: DEFAULT_SCRYPT_N, r: 8, p: 1, keylen: SCRYPT_KEYLEN }

/** The cost new hashes get for a chosen N (default 2^17); a bad N is refused, never rounded. */
export function scryptCost(N: number = DEFAULT_SCRYPT_N): ScryptCost {
  if (!Number.isSafeInteger(N) || N < MIN_SCRYPT_N || N > MAX_SCRYPT_N || (N & (N - 1)) !== 0)
    throw new VirtuosoError(
      'NODE_CONFIG',
      `scrypt cost ${N} is not a power of two from ${MIN_SCRYPT_N} to ${MAX_SCRYPT_N} (default ${DEFAULT_SCRYPT_N})`,
    )
  return { N, r: SCRYPT.r, p: SCRYPT.p }
}

/** True when a stored hash is weaker than what new hashes get: redo it while the password is at hand. */
export function needsRehash(stored: ScryptCost, want: ScryptCost): boolean {
  return stored.N < want.N || stored.r < want.r || stored.p < want.p
}

export function scrypt(password: string, salt: Buffer, o: ScryptCost, keylen: number): Promise<Buffer> {
  // scrypt needs 128 * N * r bytes; twice that leaves room without letting a stored row ask for more.
  const opts: ScryptOptions = { N: o.N, r: o.r, p: o.p, maxmem: 256 * o.N * o.r }
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key))),
  )
}
