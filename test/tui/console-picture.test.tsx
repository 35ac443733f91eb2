// The Console view's screen picture for real: a node that is hub and provider with a real QEMU guest
// (TCG, the `linux` image), a buyer on the real MarketClient, the Dashboard. Ctrl-\ switches from the
// serial text to the picture, which the provider refreshes (frames mode of console@1); the picture
// must be the guest's own screen, with the lines the serial shell wrote to its VGA console: the same half blocks as a PNG screenshot taken through the market
// (`screenshot`, a different QMP format and path), scaled to the picture's size. `s` goes back to
// the serial text, still attached.
import React from 'react'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { render } from 'ink-testing-library'
import type { MarketClient } from '../../src/client/market-client.ts'
import { BUYER, startBuyerGuest, type BuyerGuest } from '../hub/buyer-guest.ts'
import { App } from '../../src/tui/Dashboard.tsx'
import { screenshot } from '../../src/console/display-client.ts'
import type { TicketAnswer } from '../../src/console/hub.ts'
import { scaleFrame } from '../../src/console/frame.ts'
import { pictureRows, SCREEN_KEY } from '../../src/tui/render/picture.ts'
import { rowText } from '../../src/tui/render/console.ts'
import { pngRgb, readPng } from '../hv/png.ts'
import { tick, until } from './helpers.tsx'

let guest: BuyerGuest
let client: MarketClient
let vmId = ''

beforeAll(async () => {
  const machine = { memory: 128, hd: 2100, speed: 100, os: 'linux' }
  guest = await startBuyerGuest('virtuoso-tui-picture-', { hv: 'qemu', machine })
  ;({ client, vmId } = guest)
}, 180_000)

afterAll(async () => {
  await guest?.close()
}, 120_000)

/** The picture's lines as the view must draw them from this screen: only lines with a lit cell. */
async function expectedLines(width: number, height: number): Promise<string[]> {
  const t = await client.call<TicketAnswer>('console.ticket', { vmId })
  const png = readPng(await screenshot(client.dhtNode!, t))
  const frame = scaleFrame({ width: png.width, height: png.height, rgb: pngRgb(png) }, width, height)
  return litLines(pictureRows(frame, { noColor: true }).map(rowText))
}

const litLines = (lines: string[]) => lines.filter((l) => /[▀▄█]/.test(l)).map((l) => l.trim())

describe('Console view: the screen as a picture', () => {
  it('ctrl+\\ shows the guest screen in half blocks, refreshed; s goes back to the serial text', async () => {
    const inst = render(
      <App
        api={client}
        identity={BUYER}
        onQuit={() => {}}
        noColor
        size={{ columns: 80, rows: 24 }}
        initialView="machines"
      />,
    )
    const frame = () => inst.lastFrame() ?? ''
    try {
      await until(frame, (f) => f.includes('<v> console'), 10_000)
      inst.stdin.write('v')
      await until(frame, (f) => f.includes('VIRTUOSO-GUEST-READY'), 120_000)
      // Text on the VGA console (tty0) from the serial shell: the picture must show it.
      const lines = 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo VGA-LINE-$i >/dev/tty0; done; echo "vga""-done"'
      for (const ch of lines) {
        inst.stdin.write(ch)
        await tick(5)
      }
      inst.stdin.write('\r')
      await until(frame, (f) => /^vga-done\s*$/m.test(f), 30_000)
      inst.stdin.write(SCREEN_KEY)
      // A few frames: the provider keeps refreshing the picture.
      const f = await until(frame, (f) => Number(/· frame (\d+) ·/.exec(f)?.[1] ?? 0) >= 3, 60_000)
      const [, w, h] = /(\d+)×(\d+) px/.exec(f)!.map(Number)
      expect(w).toBeLessThanOrEqual(80)
      expect(h).toBeGreaterThan(20)
      // The same screen as a screenshot shows (the cursor blinks: compare until both caught it alike).
      let seen: string[] = []
      let want: string[] = []
      for (let i = 0; i < 20; i++) {
        want = await expectedLines(w, h)
        seen = litLines(frame().split('\n'))
        if (want.length > 0 && JSON.stringify(seen) === JSON.stringify(want)) break
      }
      // The boot left one line of text; twelve more cover at least a third of the picture's rows.
      expect(want.length).toBeGreaterThanOrEqual(Math.floor(h / 2 / 3))
      expect(seen).toEqual(want)
      inst.stdin.write('s')
      await until(frame, (f) => f.includes('live, ctrl+] detaches') && f.includes('VIRTUOSO-GUEST-READY'), 15_000)
      inst.stdin.write('\u001D')
      await until(frame, (f) => f.includes('My machines (1)'), 5000)
    } finally {
      inst.unmount()
    }
  }, 240_000)
})
