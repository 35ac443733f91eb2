// How the Console view reaches a machine's screen: a ticket from the hub over market@1, then the
// provider's console@1 dialed on the market client's own DHT node (one node per user, as
// `virtuoso console` does). The view sees only ConsoleLink, so view tests hand it an in-memory one.
import type DHT from 'hyperdht'
import { ConsoleSession, type ConsoleEnd } from '../console/client.ts'
import type { TicketAnswer } from '../console/hub.ts'
import { consoleUnavailable } from './errors.ts'
import type { MarketApi } from './hooks/use-market.ts'

/** The parts of a ConsoleSession the view uses. */
export interface ConsoleLink {
  on(event: 'data', fn: (b: Buffer) => void): unknown
  once(event: 'end', fn: (end: ConsoleEnd) => void): unknown
  off(event: 'data', fn: (b: Buffer) => void): unknown
  off(event: 'end', fn: (end: ConsoleEnd) => void): unknown
  write(data: Buffer | string): void
  resize(cols: number, rows: number): void
  detach(): Promise<void>
  readonly closed: boolean
}

/** `mode`: the serial console (default), or 'frames', the screen as small pictures (hooks/use-picture.ts). */
export type OpenConsole = (
  vmId: string,
  size: { cols: number; rows: number },
  mode?: 'serial' | 'frames',
) => Promise<ConsoleLink>

/** A market client that can also dial providers: the real MarketClient has its DHT node. */
export type DialingApi = MarketApi & { dhtNode?: DHT }

/** The opener for a market client, or null when it has no DHT node to dial providers with. */
export function consoleOpener(api: DialingApi, opts: { timeoutMs?: number } = {}): OpenConsole | null {
  if (!api.dhtNode) return null
  return async (vmId, size, mode) => {
    const dht = api.dhtNode
    if (!dht) throw consoleUnavailable('virtuoso console VMID')
    const t = await api.call<TicketAnswer>('console.ticket', { vmId })
    return ConsoleSession.dial({
      dht,
      nodeKey: Buffer.from(t.nodeKey, 'hex'),
      ticket: t.ticket,
      cols: size.cols,
      rows: size.rows,
      timeoutMs: opts.timeoutMs,
      mode,
    })
  }
}
