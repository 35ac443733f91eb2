// Test nodes hash passwords at the lowest cost scrypt.ts accepts, by an explicit option or flag:
// a production node keeps 2^17 and reads no setting from the environment.
import { MIN_SCRYPT_N } from '../src/scrypt.ts'

export const TEST_SCRYPT_N = MIN_SCRYPT_N
/** The `virtuoso node` flag that says so, for tests and benchmarks that spawn nodes. */
export const TEST_COST = ['--scrypt-cost', String(MIN_SCRYPT_N)]
