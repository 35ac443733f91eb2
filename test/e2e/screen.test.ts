// A machine's screen end to end, on a real QEMU provider (TCG) driven through the CLI as a buyer
// uses it: `screenshot` writes a valid PNG; Debian's vncsnapshot (a real VNC client) takes a picture
// through `virtuoso vnc` whose size is the guest's mode, given the machine's console password (a
// wrong one is refused, and the provider keeps no clear copy); a second viewer takes over from the
// first; another buyer gets neither; `start --console` attaches once the machine runs, which the seed named.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { execa } from 'execa'
import { cli, spawnVirtuoso, startMarket, tempDir } from './harness.ts'
import { readPng } from '../hv/png.ts'
import { PROV_ALICE_BOB, setUpUsers } from './users.ts'

let root: Awaited<ReturnType<typeof tempDir>>
let market: Awaited<ReturnType<typeof startMarket>>
const home = (who: string) => join(root.path, 'home-' + who)
const as = (who: string, args: string[], input?: string) =>
  cli(home(who), [...args, '--json'], { env: market.env, input })
let vm = ''

beforeAll(async () => {
  root = await tempDir('virtuoso-e2e-screen-')
  market = await startMarket(root.path, { providers: 1, hv: 'qemu' })
  const { pms } = await setUpUsers(as, {
    users: PROV_ALICE_BOB,
    hubData: join(root.path, 'hub'),
    credit: ['alice', '100'],
    pairings: [market.providers[0].pairing],
  })
  expect(pms[0]).toBeTruthy()
  const key = join(root.path, 'id.pub')
  await writeFile(key, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIScreenTestKeyScreenTestKeyScreenTestKey0 alice@test\n')
  const bad = join(root.path, 'bad.pub')
  await writeFile(bad, 'not a key\n')
  const spec = ['register', '--memory', '128', '--hd', '2100', '--speed', '100', '--os', 'linux', '--name', 'Web 1']
  expect((await as('alice', [...spec, '--ssh-key', bad])).json.error.code).toBe('MARKET_BAD_INPUT')
  const reg = await as('alice', [...spec, '--ssh-key', key])
  vm = reg.json.id
  expect((await as('alice', ['store', vm, '--on', pms[0]])).json.state).toBe('stored')
  expect((await as('alice', ['start', vm])).json.state).toBe('started')
}, 180_000)

afterAll(async () => {
  if (vm) await as('alice', ['stop', vm]).catch(() => {})
  await market?.stop()
  await root?.remove()
}, 120_000)

describe('the screen of a machine', () => {
  it('screenshot writes a valid PNG; vncsnapshot through `virtuoso vnc` gets a picture of the same size', async () => {
    const file = join(root.path, 'screen.png')
    const shot = await as('alice', ['screenshot', vm, file])
    expect(shot.exitCode).toBe(0)
    const png = readPng(await readFile(file))
    expect(png.width).toBeGreaterThanOrEqual(640)

    const pw = 'screen pw 4 vnc'
    expect((await as('alice', ['console', 'passwd', vm, '--password-stdin'], `${pw}\n`)).exitCode).toBe(0)
    const pwFile = join(root.path, 'console-pw')
    await writeFile(pwFile, `${pw}\n`, { mode: 0o600 })
    const vnc = spawnVirtuoso(['vnc', vm, '--password-file', pwFile, '--json'], {
      ...market.env,
      VIRTUOSO_HOME: home('alice'),
    })
    try {
      const [line] = await vnc.waitFor(/"port":\d+/, 60_000)
      const port = Number(/"port":(\d+)/.exec(line)![1])
      const jpg = join(root.path, 'vnc.jpg')
      await execa('vncsnapshot', ['-quiet', `127.0.0.1::${port}`, jpg], { timeout: 60_000 })
      expect(jpegSize(await readFile(jpg))).toEqual({ width: png.width, height: png.height })

      // One viewer at a time: the second takes over, the first is hung up.
      const a = await rfbViewer(port)
      const aClosed = new Promise((r) => a.once('close', r))
      const b = await rfbViewer(port)
      await aClosed
      expect(b.destroyed).toBe(false)
      b.destroy()
    } finally {
      await vnc.stop()
    }
  })

  it('a wrong console password is one error line and no VNC port; the provider keeps no clear copy', async () => {
    const wrong = await cli(home('alice'), ['vnc', vm, '--password-stdin'], { env: market.env, input: 'not it\n' })
    expect(wrong.exitCode).not.toBe(0)
    expect(wrong.stdout).toBe('')
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1)
    expect(wrong.stderr).toContain(`wrong console password for machine ${vm}`)
    const json = await as('alice', ['vnc', vm, '--password-stdin'], 'not it\n')
    expect(json.json.error.code).toBe('NODE_CONSOLE_WRONG_PASSWORD')
    // Everything the provider wrote, except the guest's disk extents (the guest's own bytes).
    const dir = market.providers[0].data
    for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
      const p = join(e.parentPath, e.name)
      if (!e.isFile() || (await stat(p)).size > 64 * 1024 * 1024) continue
      expect((await readFile(p).catch(() => Buffer.alloc(0))).includes('screen pw 4 vnc'), p).toBe(false)
    }
  })

  it('another buyer gets neither the screen nor a VNC port', async () => {
    const shot = await as('bob', ['screenshot', vm, join(root.path, 'bob.png')])
    expect(shot.json.error.code).toBe('MARKET_NOT_FOUND')
    const vnc = await as('bob', ['vnc', vm, '--password-stdin'], 'screen pw 4 vnc\n')
    expect(vnc.exitCode).not.toBe(0)
    expect(vnc.json.error.code).toBe('MARKET_NOT_FOUND')
  })

  it('start --console attaches once the machine runs; Ctrl-] detaches and leaves it running', async () => {
    const stop = await as('alice', ['stop', vm])
    expect(stop.json.state, stop.stdout + stop.stderr).toBe('stopped')
    const p = spawnVirtuoso(['start', vm, '--console'], { ...market.env, VIRTUOSO_HOME: home('alice') })
    try {
      await p.waitFor(/VIRTUOSO-GUEST-READY/, 120_000).catch((e) => {
        throw new Error(`${e.message}; stdout: ${p.lines.join('\n').slice(-400)}`)
      })
      // The first-boot seed named the guest after the machine ('Web 1' -> web-1); a command ends the
      // prompt's line.
      // Keys typed while the guest's shell is still being spawned can be dropped, so the command is
      // typed again until its echo after the prompt arrives (waitFor also scans what came before).
      // busybox ash may ask the terminal for the cursor position (ESC [6n) between prompt and input.
      let echoed = false
      for (let attempt = 0; attempt < 6 && !echoed; attempt++) {
        p.proc.stdin?.write('echo "seed""-ok"\r')
        echoed = await p.waitFor(/web-1:~# (.\[6n)?echo/, 15_000).then(
          () => true,
          () => false,
        )
      }
      expect(echoed, p.lines.join('\n').slice(-400)).toBe(true)
      p.proc.stdin?.write(Buffer.from([0x1d]))
      expect((await p.proc).exitCode).toBe(0)
    } finally {
      await p.stop()
    }
    expect((await as('alice', ['machines'])).json.vms.find((m: any) => m.id === vm).state).toBe('started')
  }, 300_000)
})

/** Connect as a VNC viewer would and read the server's RFB greeting. */
function rfbViewer(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1')
    s.once('error', reject)
    s.once('data', (b) => (/^RFB 003\.00\d\n/.test(b.toString('latin1')) ? resolve(s) : reject(new Error('not RFB'))))
  })
}

/** Width and height from a JPEG's start-of-frame marker. */
function jpegSize(b: Buffer): { width: number; height: number } {
  let i = 2
  while (i < b.length) {
    const marker = b[i + 1]
    const len = b.readUInt16BE(i + 2)
    if (marker >= 0xc0 && marker <= 0xc3) return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) }
    i += 2 + len
  }
  throw new Error('no SOF marker in the JPEG')
}
