// A guest's serial console for end-to-end tests, reached the way `virtuoso console` reaches it (a
// console ticket from the hub, console@1 to the provider), driven as a person types: a command, then
// a marker echoed once it ran.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { MarketClient } from '../../src/client/market-client.ts'
import { ConsoleSession, type ConsoleEnd } from '../../src/console/client.ts'
import type { TicketAnswer } from '../../src/console/hub.ts'
import { createDhtNode, parseBootstrap } from '../../src/net/dht.ts'
import { parseKey } from '../../src/net/identity.ts'

export interface GuestShell {
  /** Runs `cmd`, resolves with what the guest printed after it (ANSI escapes and all). */
  run(cmd: string, timeoutMs?: number): Promise<string>
  /** Resolves once the console shows `re` (searching what arrived since the last run). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

export async function guestShell(home: string, env: Record<string, string>, vmId: string): Promise<GuestShell> {
  const profile = JSON.parse(await readFile(join(home, 'profile.json'), 'utf8'))
  const bootstrap = parseBootstrap(env.VIRTUOSO_BOOTSTRAP)
  const dht = createDhtNode(bootstrap)
  const client = await MarketClient.connect({
    marketKey: parseKey(env.VIRTUOSO_MARKET),
    bootstrap,
    token: profile.token,
    dht,
  })
  const t = await client.call<TicketAnswer>('console.ticket', { vmId })
  await client.close()
  const s = await ConsoleSession.dial({ dht, nodeKey: Buffer.from(t.nodeKey, 'hex'), ticket: t.ticket })
  let out = ''
  const waiters = new Set<() => void>()
  s.on('data', (b: Buffer) => {
    out += b.toString('latin1')
    for (const w of waiters) w()
  })
  // A session that ends (hung up, taken over, the machine stopped) fails the wait at once with its
  // reason, instead of looking like a command that never finished.
  let ended: ConsoleEnd | null = null
  void s.done.then((end) => {
    ended = end
    for (const w of waiters) w()
  })
  const waitFor = (re: RegExp, timeoutMs = 180_000) =>
    new Promise<void>((resolve, reject) => {
      const last = () => JSON.stringify(out.slice(-300))
      const check = () => {
        const seen = re.test(out)
        if (!seen && !ended) return
        waiters.delete(check)
        clearTimeout(timer)
        if (seen) resolve()
        else
          reject(new Error(`console ended (${ended!.code}: ${ended!.message}) before it showed ${re}; last: ${last()}`))
      }
      const timer = setTimeout(() => {
        waiters.delete(check)
        reject(new Error(`console never showed ${re}; last: ${last()}`))
      }, timeoutMs)
      waiters.add(check)
      check()
    })
  let n = 0
  return {
    waitFor,
    async run(cmd, timeoutMs = 60_000) {
      const mark = `M${++n}K${Date.now() % 100000}`
      out = ''
      // The marker is printed by arithmetic, so the typed line (which the terminal echoes) never matches.
      s.write(`${cmd}; echo ${mark}-$((40+2))\r`)
      await waitFor(new RegExp(`${mark}-42`), timeoutMs)
      return out
    },
    async close() {
      await s.detach()
      await dht.destroy()
    },
  }
}
