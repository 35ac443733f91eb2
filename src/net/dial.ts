// Dialing a peer by public key. An attempt lasts until its first channel opens, the connection
// fails, or the deadline: a live attempt is never dropped for being slow. Until the serving nodes'
// DHT settings were fixed (dht.ts) one dial in two from a new process was half-open and a 2 s
// redial hid it; with them, 200 of 200 CLI calls opened on the first attempt (npm run bench --
// transport). A connection that fails outright (the peer is not announced yet, e.g. a hub being
// restarted) is dialed again after RETRY_MS, doubling, until the deadline.
import type DHT from 'hyperdht'
import type { KeyPair, NoiseSocket } from 'hyperdht'
import Protomux from 'protomux'
import { nodeError } from './errors.ts'

export const RETRY_MS = 100
export const MAX_RETRY_MS = 1000

export interface DialOptions {
  keyPair?: KeyPair
  deadlineMs: number
  what: string
}

/** Dials `key`; `setup` creates the channels on each attempt and returns the promise of the first one opening. */
export async function dial<T>(
  dht: DHT,
  key: Buffer,
  opts: DialOptions,
  setup: (mux: Protomux, socket: NoiseSocket) => { opened: Promise<void>; value: T },
): Promise<{ socket: NoiseSocket; value: T }> {
  const t0 = Date.now()
  const deadline = t0 + opts.deadlineMs
  let lastError: unknown = null
  let retry = RETRY_MS
  await dht.fullyBootstrapped().catch(() => {})
  for (let attempt = 1; Date.now() < deadline; attempt++) {
    const socket = dht.connect(key, opts.keyPair ? { keyPair: opts.keyPair } : undefined)
    socket.on('error', () => {})
    const { opened, value } = setup(Protomux.from(socket), socket)
    let timer: NodeJS.Timeout | undefined
    try {
      const wait = Math.max(1, deadline - Date.now())
      await Promise.race([
        opened,
        new Promise((_, reject) => socket.once('error', reject)),
        new Promise((_, reject) =>
          socket.once('close', () => reject(nodeError.closed(`opening a channel to ${opts.what}`))),
        ),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(nodeError.timeout(`opening a channel to ${opts.what}`, wait)), wait)
        }),
      ])
      trace(`${opts.what}: first channel open after ${Date.now() - t0} ms, attempt ${attempt}`)
      return { socket, value }
    } catch (err) {
      lastError = err
      trace(`${opts.what}: attempt ${attempt} failed after ${Date.now() - t0} ms: ${(err as Error).message}`)
      socket.destroy()
      await new Promise((r) => setTimeout(r, Math.min(retry, Math.max(0, deadline - Date.now()))))
      retry = Math.min(retry * 2, MAX_RETRY_MS)
    } finally {
      clearTimeout(timer)
    }
  }
  throw nodeError.unreachable(`${opts.what} within ${Math.round(opts.deadlineMs / 1000)} s`, lastError)
}

/** VIRTUOSO_DEBUG=1: one stderr line per dial, what `npm run bench -- transport` reads. */
export function trace(line: string): void {
  if (process.env.VIRTUOSO_DEBUG) process.stderr.write(`virtuoso: dial ${line}\n`)
}
