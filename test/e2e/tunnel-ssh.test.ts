// `virtuoso ssh` into a debian-12 guest's own sshd through real processes (DHT bootstrap, hub, a QEMU
// provider; 127.0.0.1 only): OpenSSH runs `virtuoso pipe VMID 22` as its ProxyCommand, logs in with
// the buyer's key (register --ssh-key, put in by the first-boot seed) and checks the guest's host key
// against the one the market made for the machine, with no prompt (StrictHostKeyChecking=yes).
// The slowest test here: Debian boots under TCG.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { execa } from 'execa'
import { cli, startMarket, tempDir } from './harness.ts'
import { guestShell, type GuestShell } from './guest-shell.ts'
import { addDebianImage, debianImage, setUpUsers } from './users.ts'

let root: Awaited<ReturnType<typeof tempDir>>
let market: Awaited<ReturnType<typeof startMarket>>
const home = (who: string) => join(root.path, 'home-' + who)
const as = (who: string, args: string[], input?: string) =>
  cli(home(who), [...args, '--json'], { env: market.env, input })
let vm = ''
let key = ''
let shell: GuestShell | null = null

beforeAll(async () => {
  debianImage()
  root = await tempDir('virtuoso-e2e-ssh-')
  market = await startMarket(root.path, { providers: 1, hv: 'qemu' })
  const hubData = join(root.path, 'hub')
  const { pms } = await setUpUsers(as, {
    users: [
      ['prov', 'provider'],
      ['alice', 'buyer'],
    ],
    hubData,
    credit: ['alice', '100'],
    pairings: [market.providers[0].pairing],
  })
  await addDebianImage(as, hubData)
  key = join(root.path, 'id_ed25519')
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key])
  const reg = await as('alice', [
    'register',
    ...['--memory', '512', '--hd', '3000', '--speed', '100', '--os', 'debian-12'],
    ...['--name', 'deb-ssh', '--ssh-key', `${key}.pub`],
  ])
  vm = reg.json.id
  expect((await as('alice', ['store', vm, '--on', pms[0]])).json.state).toBe('stored')
  expect((await as('alice', ['start', vm])).json.state).toBe('started')
  // Booted when the serial console has logged in by itself; then sshd is up (it starts before getty).
  shell = await guestShell(home('alice'), market.env, vm)
  await shell.waitFor(/root@deb-ssh:~# /, 600_000)
  await shell.run('until systemctl is-active -q ssh; do sleep 0.5; done', 120_000)
}, 900_000)

afterAll(async () => {
  await shell?.close().catch(() => {})
  if (vm) await as('alice', ['stop', vm]).catch(() => {})
  await market?.stop()
  await root?.remove()
}, 120_000)

describe('virtuoso ssh', () => {
  it("runs a command in the guest over the tunnel, the guest's host key pinned", async () => {
    const r = await cli(home('alice'), ['ssh', vm, '-i', key, '-o', 'BatchMode=yes', '--', 'cat /etc/hostname'], {
      env: market.env,
    })
    expect(r.stderr).not.toMatch(/Warning|REMOTE HOST IDENTIFICATION/)
    expect(r.exitCode).toBe(0)
    expect(r.stdout.trim()).toBe('deb-ssh')
  })

  it("ssh's exit status is the command's", async () => {
    const r = await cli(home('alice'), ['ssh', vm, '-i', key, '-o', 'BatchMode=yes', '--', 'exit 7'], {
      env: market.env,
    })
    expect(r.exitCode).toBe(7)
  })
})
