// The Console view for real, in one process on a loopback testnet: a node that is hub and provider
// (test driver, whose fake serial console runs a toy shell), a buyer logged in over market@1 who
// stores and starts a machine, the Dashboard on the real MarketClient; `v` gets a ticket from the
// hub, dials console@1 on the client's own DHT node, and what is typed runs in the guest.
import React from 'react'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { render } from 'ink-testing-library'
import type { MarketClient } from '../../src/client/market-client.ts'
import { App } from '../../src/tui/Dashboard.tsx'
import { ConsoleSession } from '../../src/console/client.ts'
import type { TicketAnswer } from '../../src/console/hub.ts'
import { BUYER, startBuyerGuest, type BuyerGuest } from '../hub/buyer-guest.ts'
import { tick, until } from './helpers.tsx'

let guest: BuyerGuest
let client: MarketClient
let vmId: string

beforeAll(async () => {
  guest = await startBuyerGuest('virtuoso-tui-console-', { machine: { config: 'small' } })
  ;({ client, vmId } = guest)
}, 60_000)

afterAll(async () => {
  await guest?.close()
})

/** The dashboard as the buyer sees it, on a terminal `columns` wide. */
const dashboard = (columns: number, initialView?: 'machines') =>
  render(
    <App
      api={client}
      identity={BUYER}
      onQuit={() => {}}
      noColor
      size={{ columns, rows: 24 }}
      initialView={initialView}
    />,
  )

describe('Console view over a running node', () => {
  it('v on the started machine opens its console; typed keys run in the guest; Ctrl-] comes back', async () => {
    const inst = dashboard(80)
    const frame = () => inst.lastFrame() ?? ''
    try {
      await until(frame, (f) => f.includes('Standard configurations'), 10_000)
      inst.stdin.write('2')
      await until(frame, (f) => /My machines \(1\)/.test(f) && f.includes('<v> console'), 10_000)
      inst.stdin.write('v')
      await until(frame, (f) => f.includes('live, ctrl+] detaches') && f.includes('/ #'), 15_000)
      // The toy shell has no arithmetic: quote removal shows the command ran (the echoed input reads "hi""-3").
      for (const ch of 'echo "hi""-3"') {
        inst.stdin.write(ch)
        await tick(5)
      }
      inst.stdin.write('\r')
      const f = await until(frame, (f) => /^hi-3\s*$/m.test(f), 10_000)
      expect(f).toContain('/ # echo "hi""-3"')
      inst.stdin.write('\u001D')
      await until(frame, (f) => f.includes('My machines (1)'), 5000)
    } finally {
      inst.unmount()
    }
  }, 60_000)

  it('another viewer takes over and is told; r takes it back; stopping the machine ends it with the reason', async () => {
    const inst = dashboard(100, 'machines')
    const frame = () => inst.lastFrame() ?? ''
    try {
      await until(frame, (f) => f.includes('<v> console'), 10_000)
      inst.stdin.write('6')
      await until(frame, (f) => f.includes('live, ctrl+] detaches') && f.includes('/ #'), 15_000)
      const t = await client.call<TicketAnswer>('console.ticket', { vmId })
      const other = await ConsoleSession.dial({
        dht: client.dhtNode,
        nodeKey: Buffer.from(t.nodeKey, 'hex'),
        ticket: t.ticket,
      })
      await until(frame, (f) => f.includes('another viewer took over this console'), 10_000)
      const ended = new Promise((resolve) => other.once('end', resolve))
      inst.stdin.write('r')
      expect(await ended).toMatchObject({ code: 'HV_CONSOLE_TAKEN_OVER' })
      await until(frame, (f) => f.includes('live, ctrl+] detaches'), 15_000)
      await client.call('stop', { vmId })
      await until(frame, (f) => f.includes(`machine ${vmId} stopped; start it to view its console again`), 15_000)
    } finally {
      inst.unmount()
    }
  }, 60_000)
})
