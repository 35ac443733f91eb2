// connectspeed (report §6.1.6, table pmseller): the network speed a provider states for a machine,
// checked at pairing against a throughput the hub measures from that node over its own connection:
// SPEEDTEST_REQUESTS answers of SPEEDTEST_BYTES random bytes each (base64 in the control@1 reply, so
// the bytes counted are the bytes that travelled), all in flight at once, timed on the hub.
import type { Ctx } from './context.ts'
import { errors } from './errors.ts'

export const SPEEDTEST_BYTES = 256 * 1024
export const SPEEDTEST_REQUESTS = 8
/** A stated speed may exceed the measured one by this factor (a single measurement is noisy). */
export const SPEED_TOLERANCE = 1.25

/** Mbit/s from the node to the hub, or null when the node does not answer the test. */
export async function measureConnect(ctx: Ctx, nodeKey: string): Promise<number | null> {
  const t0 = performance.now()
  let bytes = 0
  try {
    const answers = await Promise.all(
      Array.from({ length: SPEEDTEST_REQUESTS }, () =>
        ctx.gateway.command(nodeKey, 'net.speedtest', { bytes: SPEEDTEST_BYTES }),
      ),
    )
    for (const a of answers) bytes += typeof a?.data === 'string' ? a.data.length : 0
  } catch {
    return null
  }
  const s = (performance.now() - t0) / 1000
  return bytes > 0 && s > 0 ? Math.floor((bytes * 8) / s / 1e6) : null
}

/** The stated speed (Mbit/s) to record, refused when the measurement does not back it. */
export function checkConnectSpeed(stated: unknown, measured: number | null): number | null {
  if (stated === undefined || stated === null) return measured
  if (typeof stated !== 'number' || !Number.isSafeInteger(stated) || stated < 1)
    throw errors.badInput('connectSpeed', 'must be a whole number of Mbit/s, at least 1')
  if (measured === null)
    throw errors.badInput('connectSpeed', 'the hub could not measure the throughput from this node; is it up to date?')
  if (stated > measured * SPEED_TOLERANCE)
    throw errors.badInput(
      'connectSpeed',
      `you state ${stated} Mbit/s but the hub measured ${measured} Mbit/s from this node; state at most that`,
    )
  return stated
}
