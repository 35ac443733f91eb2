// `virtuoso doctor`: what this machine needs to run a node, one line per check with its fix.
// It exits non-zero when a provider here could not run machines (QEMU, qemu-img, qemu-nbd, the guest
// image, the native SSH crypto, room on disk). The market checks (DHT bootstrap, hub) run when a
// market is configured (flags, environment or the profile saved by `virtuoso login`).
import type { Argv } from 'yargs'
import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { access, constants, statfs } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { packageRoot } from '../root.ts'
import { defaultDataDir } from './data-dir.ts'
import { fail } from './output.ts'
import type { GlobalArgs } from './options.ts'

export interface Check {
  name: string
  ok: boolean
  /** ok=false only matters for a provider when blocking. */
  blocking: boolean
  detail: string
  fix?: string
}

// node's own execFile: execa is an ES module, which the CommonJS CLI bundle cannot import() (bin/code-cache.js).
const run = promisify(execFile)
const SETUP = 'virtuoso setup (runs the set-up step: Debian packages, guest image)'
const MIN_FREE_BYTES = 2 * 1024 ** 3

async function version(bin: string): Promise<string | null> {
  const r = await run(bin, ['--version'], { timeout: 5000 }).catch(() => null)
  if (!r) return null
  return String(r.stdout).split('\n')[0].trim()
}

async function programs(): Promise<Check[]> {
  const out: Check[] = []
  for (const bin of ['qemu-system-x86_64', 'qemu-img', 'qemu-nbd']) {
    const v = await version(bin)
    out.push(
      v
        ? { name: bin, ok: true, blocking: true, detail: v }
        : { name: bin, ok: false, blocking: true, detail: 'not found', fix: SETUP },
    )
  }
  return out
}

function guestImage(): Check {
  const dir = join(packageRoot(), 'fixtures/guest/build')
  if (!existsSync(join(dir, 'vmlinuz')) || !existsSync(join(dir, 'initrd.img')))
    return { name: 'guest image', ok: false, blocking: true, detail: `not built (${dir})`, fix: SETUP }
  let kernel = ''
  try {
    kernel = ` (kernel ${JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).kernel.version})`
  } catch {
    /* an image without a manifest still boots */
  }
  return { name: 'guest image', ok: true, blocking: true, detail: `built${kernel}` }
}

async function kvm(qemuFound: boolean): Promise<Check> {
  const { probeKvm } = await import('../hv/qemu/accel.ts')
  const usable = await access('/dev/kvm', constants.R_OK | constants.W_OK).then(
    () => true,
    () => false,
  )
  const fix = 'none needed: guests run under TCG (slower); --accel kvm forces KVM'
  if (!usable) return { name: 'kvm', ok: false, blocking: false, detail: '/dev/kvm missing or not writable', fix }
  const dir = join(packageRoot(), 'fixtures/guest/build')
  if (!qemuFound) return { name: 'kvm', ok: false, blocking: false, detail: 'not probed (no QEMU)', fix: SETUP }
  if (!existsSync(join(dir, 'vmlinuz')))
    return { name: 'kvm', ok: false, blocking: false, detail: 'not probed (no guest image)', fix: SETUP }
  const choice = await probeKvm({
    qemu: 'qemu-system-x86_64',
    kernel: join(dir, 'vmlinuz'),
    initrd: join(dir, 'initrd.img'),
    marker: 'VIRTUOSO-GUEST-READY',
  })
  const detail = choice.note.replace(/^accel: /, '')
  return choice.accel === 'kvm'
    ? { name: 'kvm', ok: true, blocking: false, detail }
    : { name: 'kvm', ok: false, blocking: false, detail, fix }
}

async function disk(data: string): Promise<Check> {
  // The data directory may not exist yet: measure the nearest existing parent.
  let dir = data
  while (!existsSync(dir) && dir !== '/') dir = join(dir, '..')
  const s = await statfs(dir)
  const free = s.bavail * s.bsize
  const gib = (free / 1024 ** 3).toFixed(1)
  return free >= MIN_FREE_BYTES
    ? { name: 'disk', ok: true, blocking: true, detail: `${gib} GiB free under ${data}` }
    : {
        name: 'disk',
        ok: false,
        blocking: true,
        detail: `${gib} GiB free under ${data}`,
        fix: 'free some space, or give --data a directory on a larger file system',
      }
}

function sshCrypto(): Check {
  const fix = `cd ${packageRoot()} && npm rebuild ssh2 cpu-features --foreground-scripts`
  try {
    const req = createRequire(join(packageRoot(), 'package.json'))
    const ok = !!req('ssh2/lib/protocol/crypto.js').bindingAvailable
    return ok
      ? { name: 'ssh2 crypto', ok: true, blocking: true, detail: 'native binding loaded' }
      : { name: 'ssh2 crypto', ok: false, blocking: true, detail: 'JS fallback (2-13x slower SSH console)', fix }
  } catch (err) {
    return { name: 'ssh2 crypto', ok: false, blocking: true, detail: (err as Error).message, fix }
  }
}

function clock(): Check {
  const now = new Date()
  const year = now.getUTCFullYear()
  const sane = year >= 2024 && year < 2100
  return sane
    ? { name: 'clock', ok: true, blocking: false, detail: now.toISOString() }
    : {
        name: 'clock',
        ok: false,
        blocking: false,
        detail: `${now.toISOString()} is not a plausible date (sessions and billing periods use it)`,
        fix: 'set the clock, e.g. enable NTP: timedatectl set-ntp true',
      }
}

/** The DHT bootstrap answering a ping, then the hub answering a market@1 call (when a market is known). */
async function market(args: GlobalArgs): Promise<Check[]> {
  const { readProfile } = await import('../client/profile.ts')
  const profile = await readProfile().catch(() => null)
  const marketKey = args.market ?? process.env.VIRTUOSO_MARKET ?? profile?.market
  const bootText = args.bootstrap ?? process.env.VIRTUOSO_BOOTSTRAP ?? profile?.bootstrap
  if (!bootText) return []
  const { parseBootstrap, createDhtNode } = await import('../net/dht.ts')
  const bootstrap = parseBootstrap(bootText)
  const out: Check[] = []
  const dht = createDhtNode(bootstrap)
  try {
    if (bootstrap !== 'public') {
      for (const b of bootstrap) {
        const ok = await (dht as any).ping(b).then(
          () => true,
          () => false,
        )
        out.push(
          ok
            ? { name: 'dht bootstrap', ok, blocking: false, detail: `${b.host}:${b.port} answers` }
            : {
                name: 'dht bootstrap',
                ok,
                blocking: false,
                detail: `${b.host}:${b.port} does not answer`,
                fix: 'check --bootstrap HOST:PORT (from `virtuoso dht`) and that UDP reaches it',
              },
        )
      }
    }
    if (marketKey) {
      const { MarketClient } = await import('../client/market-client.ts')
      const { parseKey } = await import('../net/identity.ts')
      try {
        const t0 = Date.now()
        const c = await MarketClient.connect({
          marketKey: parseKey(marketKey),
          bootstrap,
          dht,
          connectTimeoutMs: 10_000,
        })
        await c.call('configs', {}, { timeoutMs: 5000 })
        await c.close()
        out.push({
          name: 'hub',
          ok: true,
          blocking: false,
          detail: `market ${marketKey.slice(0, 8)}… answered in ${Date.now() - t0} ms`,
        })
      } catch (err) {
        out.push({
          name: 'hub',
          ok: false,
          blocking: false,
          detail: `market ${marketKey.slice(0, 8)}…: ${(err as Error).message.split('\n')[0]}`,
          fix: 'check --market KEY (the hub prints it) and that the hub runs',
        })
      }
    }
  } finally {
    await dht.destroy()
  }
  return out
}

export async function runDoctor(args: GlobalArgs & { data?: string }): Promise<Check[]> {
  const progs = await programs()
  return [
    ...progs,
    await kvm(progs[0].ok),
    guestImage(),
    await disk(args.data ?? defaultDataDir()),
    sshCrypto(),
    clock(),
    ...(await market(args)),
  ]
}

export function doctorCommand(y: Argv): Argv {
  return y.command(
    'doctor',
    'check this machine for running a node: one line per check with its fix',
    (a) =>
      a.option('data', { type: 'string', describe: 'data directory to check for free space (default: the XDG one)' }),
    async (argv) => {
      const a = argv as unknown as GlobalArgs & { data?: string }
      try {
        const checks = await runDoctor(a)
        const broken = checks.some((c) => !c.ok && c.blocking)
        if (a.json) process.stdout.write(JSON.stringify({ ok: !broken, checks }) + '\n')
        else {
          const w = Math.max(...checks.map((c) => c.name.length))
          for (const c of checks) {
            const mark = c.ok ? 'ok  ' : c.blocking ? 'FAIL' : 'warn'
            process.stdout.write(`${mark}  ${c.name.padEnd(w)}  ${c.detail}${c.fix ? `; fix: ${c.fix}` : ''}\n`)
          }
          process.stdout.write(
            broken
              ? 'a provider on this machine cannot run machines until the FAIL lines are fixed\n'
              : 'ready to run a node\n',
          )
        }
        process.exit(broken ? 1 : 0)
      } catch (err) {
        fail(err, !!a.json)
      }
    },
  )
}
