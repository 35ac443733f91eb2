// What the origin and destination sides of the migration server share: the checks on the hub's
// command parameters, the cache directory's name, and the test-only fault options.
import { nodeError } from '../net/errors.ts'

/** Where a machine that left keeps its files, under the machines directory, for a return trip. */
export const CACHE_DIR = '.vmmp-cache'
/** The vmmp@1 channel id between two providers (the hub's channel has none). */
export const PEER_CHANNEL_ID = Buffer.from('peer')

/** Fault injection for tests, passed only as a constructor option (the `virtuoso` command never sets it). */
export interface MigrationFaults {
  /** Origin: delay each blocks@1 answer (a slow link, so a test can kill something mid-copy). */
  serveDelayMs?: number
  /** Origin: flip a byte in every block it serves (corruption in transit). */
  corrupt?: boolean
  /** Destination: send one HEARTBEAT, then none (the pull goes on). */
  dropHeartbeats?: boolean
  /** Destination: pretend the disk fills after this many bytes. */
  freeBytes?: number
}

/** A non-empty string of at most 256 characters from a hub command. */
export function requireText(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > 256) throw nodeError.badFrame(`${what} must be a string`)
  return v
}

/** A whole number >= 0 from a hub command. */
export function requireCount(v: unknown, what: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0) throw nodeError.badFrame(`${what} must be a whole number`)
  return v as number
}
