// Into a guest from the buyer's computer through real processes (a DHT bootstrap, the hub and a QEMU
// provider started by the CLI, on 127.0.0.1), with only HyperDHT between buyer and provider:
// `virtuoso pipe` carries bytes to busybox `nc -e cat` in a linux guest and back; `virtuoso forward`
// carries HTTP requests to busybox httpd; `virtuoso ssh --console` reaches the provider's SSH
// console through the same tunnel; a second buyer is refused for pipe, forward and ssh. The guest's
// live traffic counters reach its owner and its provider only.
// (`virtuoso ssh` into a guest's own sshd: test/e2e/tunnel-ssh.test.ts, debian-12.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { spawn } from 'node:child_process'
import { BIN, cli, spawnVirtuoso, startMarket, tempDir } from './harness.ts'
import { guestShell, type GuestShell } from './guest-shell.ts'
import { PROV_ALICE_BOB, setUpUsers } from './users.ts'

let root: Awaited<ReturnType<typeof tempDir>>
let market: Awaited<ReturnType<typeof startMarket>>
const home = (who: string) => join(root.path, 'home-' + who)
const as = (who: string, args: string[], input?: string) =>
  cli(home(who), [...args, '--json'], { env: market.env, input })
let vm = ''
let shell: GuestShell | null = null

/** The guest's shell, once it answers (keys typed while it boots can be lost: ask again). */
async function readyShell(): Promise<GuestShell> {
  const s = await guestShell(home('alice'), market.env, vm)
  for (let i = 0; ; i++) {
    try {
      await s.run('true', 3000)
      return s
    } catch (err) {
      if (i > 60) throw err
    }
  }
}

beforeAll(async () => {
  root = await tempDir('virtuoso-e2e-tunnel-')
  market = await startMarket(root.path, { providers: 1, hv: 'qemu' })
  const { pms } = await setUpUsers(as, {
    users: PROV_ALICE_BOB,
    hubData: join(root.path, 'hub'),
    credit: ['alice', '100'],
    pairings: [market.providers[0].pairing],
  })
  expect(pms[0]).toBeTruthy()
  const reg = await as('alice', ['register', '--memory', '128', '--hd', '2100', '--speed', '100', '--os', 'linux'])
  vm = reg.json.id
  expect((await as('alice', ['store', vm, '--on', pms[0]])).json.state).toBe('stored')
  expect((await as('alice', ['start', vm])).json.state).toBe('started')
  shell = await readyShell()
  // The uplink card (eth1) has its address from QEMU's DHCP; then the two services.
  await shell.run("while ! ifconfig eth1 | grep -q 'inet addr'; do sleep 0.2; done", 120_000)
  await shell.run('mkdir -p /www && echo hello-from-guest > /www/index.html && httpd -p 80 -h /www')
  await shell.run('(nc -ll -p 7 -e cat </dev/null >/dev/null 2>&1 &)')
}, 400_000)

afterAll(async () => {
  await shell?.close().catch(() => {})
  if (vm) await as('alice', ['stop', vm]).catch(() => {})
  await market?.stop()
  await root?.remove()
}, 120_000)

describe('tunnels into a guest (provider reachable only over HyperDHT)', () => {
  it('pipe: stdin to the guest port and its answer on stdout', async () => {
    const text = 'hello through the tunnel\n'.repeat(100)
    const r = await cli(home('alice'), ['pipe', vm, '7'], { env: market.env, input: text })
    expect(r.stderr).toBe('')
    expect(r.exitCode).toBe(0)
    expect(r.stdout + '\n').toBe(text) // execa strips the last newline
  })

  it('forward: HTTP requests through 127.0.0.1:LOCAL reach busybox httpd in the guest', async () => {
    const fwd = spawnVirtuoso(['forward', vm, '0:80', '--json'], { ...market.env, VIRTUOSO_HOME: home('alice') })
    try {
      const [, port] = await fwd.waitFor(/"port":(\d+)/)
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/index.html`)
        expect(res.status).toBe(200)
        expect(await res.text()).toBe('hello-from-guest\n')
      }
    } finally {
      await fwd.stop()
    }
  })

  it("the owner sees the guest's traffic live (net show), its provider too (traffic), another buyer nothing", async () => {
    // The provider's switch counts the guest's card (eth0); its node reports changes every few seconds.
    const counted = async (pred: (t: any) => boolean) => {
      for (;;) {
        const r = await as('alice', ['net', 'show', 'default'])
        const t = r.json.members.find((m: any) => m.vmId === vm)?.traffic
        if (t && pred(t)) return t
        await new Promise((res) => setTimeout(res, 500))
      }
    }
    // DHCP at boot crossed the switch both ways (the switch answers it).
    const before = await counted((t) => t.sentFrames > 0 && t.recvFrames > 0)
    // ARP for an address nobody has: frames from the guest the switch counts.
    await shell!.run('ping -c 2 -W 1 10.42.0.250 >/dev/null 2>&1; true', 30_000)
    const after = await counted((t) => t.sentFrames > before.sentFrames)
    expect(after.sentBytes).toBeGreaterThan(before.sentBytes)
    const text = await cli(home('alice'), ['net', 'show', 'default'], { env: market.env })
    expect(text.stdout).toMatch(/10\.42\.0\.\d+\s+02(:[0-9a-f]{2}){5}\s+\S+\s+started\s+\S+\s+\d/)
    const hosted = (await as('prov', ['traffic'])).json.traffic.map((t: any) => t.vmId)
    expect(hosted).toEqual([vm])
    expect((await as('bob', ['traffic'])).json.traffic).toEqual([])
    expect((await as('bob', ['net', 'show', 'default'])).json.error.code).toBe('MARKET_NOT_FOUND')
  })

  it("ssh --console: the provider's SSH console through the same tunnel, no provider address", async () => {
    await shell?.close()
    shell = null
    const pw = await as('alice', ['console', 'passwd', vm, '--password-stdin'], 'console-pass-1\n')
    expect(pw.exitCode).toBe(0)
    const dir = await mkdtemp(join(tmpdir(), 'virtuoso-askpass-'))
    const askpass = join(dir, 'askpass.sh')
    await writeFile(askpass, '#!/bin/sh\necho console-pass-1\n', { mode: 0o700 })
    const args = ['ssh', vm, '--console', '-o', 'PreferredAuthentications=password', '-o', 'RequestTTY=force']
    const proc = spawn('node', [BIN, ...args], {
      env: {
        ...process.env,
        ...market.env,
        VIRTUOSO_HOME: home('alice'),
        HOME: dir,
        SSH_ASKPASS: askpass,
        SSH_ASKPASS_REQUIRE: 'force',
        DISPLAY: ':0',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let out = ''
    // The console repaints the guest's screen, then shows what the shell prints: type the command at
    // each new prompt until its answer appears (keys typed while attaching may be lost).
    let prompts = 0
    const seen = new Promise<void>((resolve) => {
      const on = (b: Buffer) => {
        out += b.toString()
        if (out.includes('CON-42')) return resolve()
        const n = out.split(':~# ').length - 1
        if (n > prompts) {
          prompts = n
          proc.stdin.write('echo CON-$((6*7))\r')
        }
      }
      proc.stdout.on('data', on)
      proc.stderr.on('data', on)
    })
    const timer = setTimeout(() => proc.kill(), 90_000)
    const exited = new Promise<void>((r) => proc.once('exit', () => r()))
    try {
      proc.stdin.write('\r')
      await Promise.race([seen, exited.then(() => Promise.reject(new Error(`ssh ended: ${out}`)))])
      expect(out).toContain('CON-42')
    } finally {
      clearTimeout(timer)
      proc.kill()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('a stranger is refused for pipe, forward and ssh', async () => {
    const pipe = await cli(home('bob'), ['pipe', vm, '7'], { env: market.env, input: 'x' })
    expect(pipe.exitCode).not.toBe(0)
    expect(pipe.stdout).toBe('')
    expect(pipe.stderr).toMatch(/MARKET_NOT_FOUND/)
    const fwd = await as('bob', ['forward', vm, '0:80'])
    expect(fwd.exitCode).not.toBe(0)
    expect(fwd.json.error.code).toBe('MARKET_NOT_FOUND')
    const ssh = await cli(home('bob'), ['ssh', vm, '--json', '--', 'true'], { env: market.env })
    expect(ssh.exitCode).not.toBe(0)
    expect(ssh.json.error.code).toBe('MARKET_NOT_FOUND')
  })

  it('bad input: one clear line, non-zero exit', async () => {
    const r = await as('alice', ['forward', vm, '80'])
    expect(r.exitCode).toBe(2)
    expect(r.json.error.code).toBe('CLI_USAGE')
    const p = await cli(home('alice'), ['pipe', vm, '70000'], { env: market.env })
    expect(p.exitCode).toBe(2)
    expect(p.stderr).toMatch(/PORT must be a TCP port/)
  })
})
