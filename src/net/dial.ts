// Dialing a peer by public key, with retries. Measured here: now and then a HyperDHT connection
// reports 'open' on the dialing side while the server never sees it, and the protomux channel then
// never opens. A channel opens in ~40 ms on loopback, so an attempt that has not opened its first
// channel within `attemptMs` is dropped and a new one dialed, until `deadlineMs` runs out.
import type DHT from 'hyperdht'
import type { KeyPair, NoiseSocket } from 'hyperdht'
import Protomux from 'protomux'
import { nodeError } from './errors.ts'

export const DEFAULT_ATTEMPT_MS = 2000

export interface DialOptions {
  keyPair?: KeyPair
  attemptMs?: number
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
  const deadline = Date.now() + opts.deadlineMs
  let lastError: unknown = null
  await dht.fullyBootstrapped().catch(() => {})
  while (Date.now() < deadline) {
    const socket = dht.connect(key, opts.keyPair ? { keyPair: opts.keyPair } : undefined)
    socket.on('error', () => {})
    const { opened, value } = setup(Protomux.from(socket), socket)
    let timer: NodeJS.Timeout | undefined
    try {
      const wait = Math.min(opts.attemptMs ?? DEFAULT_ATTEMPT_MS, Math.max(1, deadline - Date.now()))
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
      return { socket, value }
    } catch (err) {
      lastError = err
      socket.destroy()
      await new Promise((r) => setTimeout(r, 100))
    } finally {
      clearTimeout(timer)
    }
  }
  throw nodeError.unreachable(`${opts.what} within ${Math.round(opts.deadlineMs / 1000)} s`, lastError)
}
