// `npm start` as a person uses it: the demo market (real processes, real QEMU guests) in a real
// terminal under tmux, driven with send-keys and read with capture-pane: log in, start a machine,
// open a console and run a command in the guest, migrate a machine and watch it reach 100%, and the
// debian-12 machine the demo makes in the background answers `cat /etc/debian_version` on its console.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { execa } from 'execa'
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { tempDir, BIN } from './harness.ts'

const SESSION = `virtuoso-demo-${process.pid}`
let root: Awaited<ReturnType<typeof tempDir>>

const tmux = (...args: string[]) => execa('tmux', args, { reject: false })
const screen = async () => String((await tmux('capture-pane', '-p', '-t', SESSION)).stdout)
const keys = async (...k: string[]) => {
  for (const key of k) {
    await tmux('send-keys', '-t', SESSION, key)
    await new Promise((r) => setTimeout(r, 150))
  }
}
const type = async (text: string) => {
  await tmux('send-keys', '-t', SESSION, '-l', text)
  await new Promise((r) => setTimeout(r, 200))
}

async function until(pred: (s: string) => boolean, what: string, ms = 60_000): Promise<string> {
  const end = Date.now() + ms
  let s = ''
  while (Date.now() < end) {
    s = await screen()
    if (pred(s)) return s
    await new Promise((r) => setTimeout(r, 300))
  }
  const log = await readFile(join(root.path, 'demo.err'), 'utf8').catch(() => '')
  throw new Error(`timed out waiting for ${what}; screen:\n${s}\ndemo stderr:\n${log.slice(-2000)}`)
}

/** The machine row the Machines view has selected, and the first row of its table. */
const selected = (s: string) => /^> (\S+)/m.exec(s)?.[1] ?? null
const firstRow = (s: string) => /^\s+NAME\s+STATE.*\n[> ] (\S+)/m.exec(s)?.[1] ?? null

/**
 * Moves the selection in the Machines view to the row naming `name`. The dashboard handles keys in
 * order but draws them later (much later in a loaded full run): each move is read back from the
 * screen before the next, or a screen drawn before the move would let the selection pass `name` unseen.
 */
async function select(name: string): Promise<void> {
  for (let i = 0; i < 8; i++) await keys('Up')
  let cur = selected(await until((s) => selected(s) !== null && selected(s) === firstRow(s), 'the first row'))
  while (cur !== name) {
    await keys('Down')
    const was = cur
    const moved = await until((s) => selected(s) !== was, `a move down from ${was}`, 5_000).catch(() => null)
    if (!moved) throw new Error(`no row ${name}:\n${await screen()}`)
    cur = selected(moved)
  }
}

beforeAll(async () => {
  root = await tempDir('virtuoso-demo-')
  await tmux('kill-session', '-t', SESSION)
  const r = await tmux(
    'new-session',
    '-d',
    '-s',
    SESSION,
    '-x',
    '100',
    '-y',
    '30',
    // CI=true makes Ink print only its last frame (it assumes no terminal); a person's terminal has no CI.
    `env -u CI node ${BIN} demo --fresh --dir ${join(root.path, 'demo')} 2> ${join(root.path, 'demo.err')}; echo DEMO-EXITED $?; sleep 600`,
  )
  expect(r.exitCode).toBe(0)
}, 30_000)

afterAll(async () => {
  await keys('C-c')
  await until((s) => s.includes('DEMO-EXITED'), 'the demo to quit', 60_000).catch(() => {})
  await tmux('kill-session', '-t', SESSION)
  await execa('pkill', ['-9', '-f', root.path], { reject: false }) // nothing the demo started outlives it
  await root?.remove()
}, 90_000)

it('logs in, starts a machine, runs a command on its console, migrates a machine to 100%', async () => {
  await until((s) => s.includes('Standard configurations'), 'the dashboard', 240_000)

  // log out and back in as the buyer
  await keys('L')
  await until((s) => s.includes('Log in'), 'the login screen')
  await type('demo')
  await keys('Tab')
  await type('demo-password')
  await keys('Enter')
  await until((s) => s.includes('demo (buyer)') && s.includes('Standard configurations'), 'logged in')

  // start the stored machine
  await keys('2')
  await until((s) => s.includes('My machines'), 'the machines view')
  await select('spare')
  await keys('s')
  await until((s) => /^> spare\s+started/m.test(s), 'spare started', 120_000)

  // the running guest's console
  await select('web')
  await keys('v')
  await until((s) => s.includes('live'), 'a live console')
  await type('echo tmux-$((6*7))')
  await keys('Enter')
  await until((s) => s.includes('tmux-42'), 'the guest to answer')
  await keys('C-]')
  await until((s) => s.includes('My machines'), 'back to the machines')

  // migrate the stopped machine and watch it finish
  await select('archive')
  await keys('m')
  await until((s) => /RSYNC|SCP/.test(s), 'the migrate dialog')
  await keys('Enter')
  await until((s) => /\[y\/N\]/.test(s), 'the confirmation')
  await keys('y')
  await keys('4')
  const done = await until(
    (s) => /archive[\s\S]*100%/.test(s) || /archive.*(committed|done)/i.test(s),
    'the migration to finish',
    180_000,
  )
  expect(done).not.toMatch(/FAILED/)
  await keys('2')
  await until(
    (s) => /^> archive\s+stopped/m.test(s) || /archive\s+stopped/.test(s),
    'archive back to stopped on its new provider',
  )

  // the debian-12 machine the demo made in the background (image published, delivered, started)
  await until((s) => /^\s*debian\s+started/m.test(s), 'debian started', 300_000)
  await select('debian')
  await keys('v')
  await until((s) => s.includes('live'), "debian's live console")
  for (let i = 0; i < 60; i++) {
    await type('cat /etc/debian_version')
    await keys('Enter')
    if (await until((s) => /^12\.\d+/m.test(s), 'the debian guest to answer', 5_000).catch(() => null)) break
  }
  expect(await screen()).toMatch(/^12\.\d+/m)
  await keys('C-]')
}, 900_000)
