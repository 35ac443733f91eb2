// Text captures of every view at 80x24 for the README: `node bin/run-ts.js test/tui/capture.tsx`.
// Drives the real dashboard (App) against the in-memory stand-in with the fixture market, so the
// screens are exactly what a user sees; writes docs/screens/<name>.txt.
import React from 'react'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { render } from 'ink-testing-library'
import { App } from '../../src/tui/Dashboard.tsx'
import type { Identity } from '../../src/market/types.ts'
import { FakeMarket } from './fake-market.ts'
import { NOW } from './fixtures.ts'
import { fakeOpener } from './fake-console.ts'

// What the guest's serial console shows when the buyer attaches (a busybox guest after a command).
const GUEST =
  'VIRTUOSO-GUEST-READY\r\n\r\nPlease press Enter to activate this console.\r\n/ # uname -a\r\n' +
  'Linux web 6.1.0-virtuoso #1 SMP x86_64 GNU/Linux\r\n/ # df -h /\r\nFilesystem                Size      Used Available Use% Mounted on\r\n' +
  '/dev/vda                  1.9G     12.3M      1.8G   1% /\r\n/ # '

const OUT = join(process.cwd(), 'docs', 'screens')
const KEY = { down: '\u001B[B', right: '\u001B[C', enter: '\r', esc: '\u001B', tab: '\t' }
const tick = (ms = 40) => new Promise((r) => setTimeout(r, ms))

async function session(who: Identity | null) {
  const api = new FakeMarket(who ?? undefined)
  if (who) api.token = 'tok'
  const inst = render(
    <App
      api={api}
      onQuit={() => {}}
      noColor
      size={{ columns: 80, rows: 24 }}
      now={NOW}
      market={'5ab2'.repeat(16)}
      openConsole={fakeOpener({ repaint: GUEST }).open}
    />,
  )
  await tick(150)
  const press = async (...keys: string[]) => {
    for (const k of keys) {
      inst.stdin.write(k)
      await tick(k === KEY.esc ? 80 : 40)
    }
  }
  const shot = async (name: string) => {
    await tick(150)
    const lines = (inst.lastFrame() ?? '').split('\n').map((l) => l.trimEnd())
    while (lines.length < 24) lines.push('')
    await writeFile(join(OUT, `${name}.txt`), lines.slice(0, 24).join('\n') + '\n')
    console.log(`docs/screens/${name}.txt`)
  }
  return { inst, press, shot }
}

await mkdir(OUT, { recursive: true })
{
  const s = await session(null)
  await s.shot('login')
  await s.press('\u000E')
  await s.shot('signup')
  s.inst.unmount()
}
{
  const s = await session({ username: 'alice', type: 'buyer' })
  await s.shot('market')
  await s.press('2')
  await s.shot('machines-buyer')
  await s.press('x')
  await s.shot('confirm-stop')
  await s.press('n', KEY.down, KEY.down, KEY.down, 'f')
  await s.shot('search-providers')
  await s.press(KEY.esc, 'n')
  await s.shot('register')
  await s.press(KEY.esc, 'g', KEY.down, 'm')
  await s.shot('migrate')
  await s.press(KEY.esc, '3')
  await s.shot('account-buyer')
  await s.press('4')
  await s.shot('migrations')
  await s.press('5')
  await s.shot('log')
  await s.press('2', 'g', 'v')
  await s.shot('console')
  await s.press('\u001D', '7')
  await s.shot('images')
  s.inst.unmount()
}
{
  const s = await session({ username: 'pat', type: 'provider' })
  await s.press('2')
  await s.shot('machines-provider')
  await s.press('e')
  await s.shot('pm-edit')
  await s.press(KEY.esc, '3')
  await s.shot('account-provider')
  s.inst.unmount()
}
process.exit(0)
