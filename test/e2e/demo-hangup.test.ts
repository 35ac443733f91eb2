// Closing the demo's terminal (SIGHUP, as a closed tmux window or ssh session does) leaves nothing
// behind: not during start-up while guests boot, not once the dashboard is up. Every process the
// demo starts inherits a marker in its environment (QEMU and qemu-nbd too), so the test finds them
// all in /proc whatever their command line, and asserts that none is left.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { execa } from 'execa'
import { existsSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { tempDir, BIN } from './harness.ts'

// A tmux server of our own: other tests and people may run theirs.
const SOCKET = `virtuoso-hup-${process.pid}`
const tmux = (...args: string[]) => execa('tmux', ['-L', SOCKET, ...args], { reject: false })
let root: Awaited<ReturnType<typeof tempDir>>

/** Pids of the processes whose environment holds `mark`. */
async function marked(mark: string): Promise<number[]> {
  const pids: number[] = []
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue
    const env = await readFile(`/proc/${name}/environ`, 'latin1').catch(() => '')
    if (env.includes(`VIRTUOSO_TEST_MARK=${mark}\0`)) pids.push(Number(name))
  }
  return pids
}

async function until<T>(f: () => Promise<T | null | undefined | false>, what: string, ms: number): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await f()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 250))
  }
}

/** Starts the demo in a fresh terminal (a tmux window); returns its marker. */
async function demoInTerminal(session: string, args: string[]): Promise<string> {
  const mark = randomBytes(8).toString('hex')
  const cmd =
    `env -u CI VIRTUOSO_TEST_MARK=${mark} node ${BIN} demo --dir ${join(root.path, 'demo')} ${args.join(' ')}` +
    ` 2> ${join(root.path, session + '.err')}`
  const r = await tmux('new-session', '-d', '-s', session, '-x', '100', '-y', '30', cmd)
  expect(r.exitCode).toBe(0)
  return mark
}

const closeTerminal = (session: string) => tmux('kill-session', '-t', session)
const qemuOfDemo = async (mark: string) => {
  for (const pid of await marked(mark)) {
    const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
    if (cmd.startsWith('qemu-system') || cmd.includes('/qemu-system')) return pid
  }
  return null
}
const errLog = (session: string) => readFile(join(root.path, session + '.err'), 'utf8').catch(() => '')

beforeAll(async () => {
  root = await tempDir('virtuoso-hup-')
})

afterAll(async () => {
  await tmux('kill-server')
  await execa('pkill', ['-9', '-f', root.path], { reject: false }) // whatever a failed test left
  await root?.remove()
}, 30_000)

it('closing the terminal once the dashboard is up suspends the guests through the market and ends every process', async () => {
  const mark = await demoInTerminal('after', ['--fresh'])
  const screen = async () => String((await tmux('capture-pane', '-p', '-t', 'after')).stdout)
  await until(async () => (await screen()).includes('Standard configurations'), 'the dashboard', 240_000)
  await until(() => qemuOfDemo(mark), 'the running guest', 10_000).catch(async (err) => {
    const acme = await readFile(join(root.path, 'demo', 'acme-1.log'), 'utf8').catch(() => '')
    throw new Error(`${err.message}; acme-1.log:\n${acme.slice(-1500)}`)
  })
  expect((await marked(mark)).length).toBeGreaterThan(4) // DHT, hub, three providers, guests

  await closeTerminal('after')
  await until(async () => (await marked(mark)).length === 0, 'every process of the demo to end', 60_000).catch(
    async (err) => {
      throw new Error(
        `${err.message}; left: ${(await marked(mark)).join(' ')}\n${(await errLog('after')).slice(-1500)}`,
      )
    },
  )
  expect(await errLog('after')).toContain('suspending the running machines through the market')
  // The started guest was suspended, not killed: its saved state is on the provider's disk.
  const machines = join(root.path, 'demo', 'acme-1', 'machines')
  const saved = (await readdir(machines)).filter((d) => existsSync(join(machines, d, 'state.sav')))
  expect(saved.length).toBe(1)
}, 300_000)

it('closing the terminal while guests boot during start-up ends every process, guests included', async () => {
  const mark = await demoInTerminal('during', ['--fresh'])
  await until(() => qemuOfDemo(mark), 'a guest booting during start-up', 240_000)
  expect(await errLog('during')).not.toMatch(/\] ready$/m)

  await closeTerminal('during')
  await until(async () => (await marked(mark)).length === 0, 'every process of the demo to end', 60_000).catch(
    async (err) => {
      throw new Error(
        `${err.message}; left: ${(await marked(mark)).join(' ')}\n${(await errLog('during')).slice(-1500)}`,
      )
    },
  )
  // Half seeded: the demo removed its data (not its logs) so that the next start seeds again.
  expect((await readdir(join(root.path, 'demo'))).filter((f) => !f.endsWith('.log'))).toEqual([])
}, 300_000)
