// Migration end to end (issue 5): `virtuoso dht`, a hub and provider nodes as real processes on
// 127.0.0.1, driven through `virtuoso migrate`. Test-driver providers (real sparse disk files) for
// the method and fault runs; two QEMU providers for a real guest whose disk file and running
// processes must survive the move. Every fault asserts nothing lost and exactly one live copy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { open, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { cli, spawnVirtuoso, startMarket, tempDir } from './harness.ts'
import { PM_PRICES, setUpUsers } from './users.ts'

let root: Awaited<ReturnType<typeof tempDir>>
let market: Awaited<ReturnType<typeof startMarket>>
const home = (who: string) => join(root.path, 'home-' + who)
const as = (who: string, args: string[], input?: string) =>
  cli(home(who), [...args, '--json'], { env: market.env, input })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const pms: string[] = []
const SLOW = { serveDelayMs: 2500 }
const MiB = 1024 * 1024

async function addPm(i: number): Promise<string> {
  const r = await as('prov', ['pm', 'add', '--pairing', market.providers[i].pairing, '--name', `pm${i}`, ...PM_PRICES])
  expect(r.exitCode, r.stdout + r.stderr).toBe(0)
  pms[i] = r.json.id
  return r.json.id
}

const machineDir = (i: number, vmId: string) => join(market.providers[i].data, 'machines', vmId)
const cacheDir = (i: number, vmId: string) => join(market.providers[i].data, 'machines', '.vmmp-cache', vmId)

/** Providers holding the machine in their live machine directory (a cached copy does not count). */
/** The origin gives up its copy when the hub releases it, just after the commit the CLI reports. */
async function untilLiveCopies(vmId: string, expected: number[]): Promise<void> {
  await until(async () => (await liveCopies(vmId)).join() === expected.join(), 20_000, `live copies on ${expected}`)
  expect(await liveCopies(vmId)).toEqual(expected)
}

async function liveCopies(vmId: string): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < market.providers.length; i++) {
    const files = await readdir(machineDir(i, vmId)).catch(() => [] as string[])
    if (files.some((f) => f.endsWith('.vmdk'))) out.push(i)
  }
  return out
}

/** Size and SHA-256 of the first 80 MiB (where the tests write) of every machine file, by name. The
 *  transfer itself verifies whole files; reading 2 GiB of holes per check would dominate the run. */
async function digest(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  for (const f of (await readdir(dir)).sort()) {
    if (f.startsWith('.')) continue
    const fh = await open(join(dir, f), 'r')
    const size = (await fh.stat()).size
    const buf = Buffer.alloc(Math.min(size, 80 * MiB))
    await fh.read(buf, 0, buf.length, 0)
    await fh.close()
    out[f] = `${size}:${createHash('sha256').update(buf).digest('hex')}`
  }
  return out
}

/** Write `bytes` of random data into the machine's first extent (a guest writing its disk). */
async function scribble(dir: string, bytes: number, at = 0): Promise<void> {
  const ext = (await readdir(dir)).filter((f) => /-f\d+\.vmdk$/.test(f)).sort()[0]
  const fh = await open(join(dir, ext), 'r+')
  for (let off = 0; off < bytes; off += MiB)
    await fh.write(randomBytes(Math.min(MiB, bytes - off)), 0, Math.min(MiB, bytes - off), at + off)
  await fh.close()
}

async function newVm(
  pm: string,
  opts: string[] = ['--memory', '64', '--hd', '2048', '--speed', '100', '--os', 'none'],
): Promise<string> {
  const reg = await as('alice', ['register', ...opts])
  expect(reg.exitCode, reg.stdout + reg.stderr).toBe(0)
  const st = await as('alice', ['store', reg.json.id, '--on', pm])
  expect(st.json, st.stdout + st.stderr).toMatchObject({ state: 'stored', pmId: pm })
  return reg.json.id
}

/** Until the hub sees provider i online again (after a restart), as its owner sees it. */
async function online(i: number): Promise<void> {
  await until(
    async () => ((await as('prov', ['machines'])).json.pms ?? []).some((p: any) => p.pmId === pms[i] && p.online),
    30_000,
    `provider ${i} back online`,
  )
}

const vmRow = async (vmId: string) => (await as('alice', ['machines'])).json.vms.find((v: any) => v.id === vmId)
const migration = async (vmId: string) =>
  (await as('alice', ['migrations'])).json.migrations.find((m: any) => m.vmId === vmId)

/** Starts `virtuoso migrate --json` as a process; resolves once the destination is writing the copy
 *  (its `.vmmp-incomplete` marker is on disk). */
async function migrateInBackground(vmId: string, to: string, method = 'RSYNC') {
  const p = spawnVirtuoso(['migrate', vmId, '--to', to, '--method', method, '--json'], {
    ...market.env,
    VIRTUOSO_HOME: home('alice'),
  })
  // The command's own progress stream says when blocks have started to arrive at the destination.
  await p.waitFor(/"phase":"copying","bytesDone":[1-9]/, 60_000)
  // Wrapped in an object: an async function returning a promise would wait for it (the whole copy).
  return {
    result: (async () => {
      const r = await p.proc
      const last = p.lines.filter((l) => l.trim()).pop() ?? ''
      let json: any
      try {
        json = JSON.parse(last)
      } catch {
        json = null
      }
      return { exitCode: r.exitCode ?? -1, json, stdout: p.lines.join('\n'), stderr: p.errLines.join('\n') }
    })(),
  }
}

/** Poll until `fn` holds (settling happens a few seconds after the decision). */
async function until(fn: () => Promise<boolean>, ms = 20_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await fn()) return
    await sleep(300)
  }
  throw new Error(`timed out: ${what}`)
}

beforeAll(async () => {
  root = await tempDir('virtuoso-migration-')
  market = await startMarket(root.path, { providers: 2, hv: 'test', hubFlags: ['--heartbeat-window', '3000'] })
  await setUpUsers(as, {
    users: [
      ['prov', 'provider'],
      ['alice', 'buyer'],
    ],
    hubData: join(root.path, 'hub'),
  })
  await addPm(0)
  await addPm(1)
  expect(
    (await cli(home('op'), ['admin', 'credit', 'alice', '1000', '--data', join(root.path, 'hub'), '--json'])).exitCode,
  ).toBe(0)
}, 90_000)

afterAll(async () => {
  await market?.stop()
  await root?.remove()
}, 60_000)

describe('methods (test hypervisor, real files)', () => {
  let vm = ''
  let first: any
  it('RSYNC moves a stored machine; files identical, pairing/version/resources/charges moved, origin keeps a cache', async () => {
    vm = await newVm(pms[0])
    await scribble(machineDir(0, vm), 24 * MiB)
    const before = await digest(machineDir(0, vm))
    const v0 = await vmRow(vm)
    // The destinations, each QUERYed by the hub for its methods (the migrate below reuses the answer).
    const dests = (await as('alice', ['destinations', vm])).json.destinations
    expect(dests.find((d: any) => d.pmId === pms[1])?.methods).toEqual(['RSYNC', 'SCP'])
    expect(dests.some((d: any) => d.pmId === pms[0])).toBe(false)
    const t0 = Date.now()
    const r = await as('alice', ['migrate', vm, '--to', pms[1], '--method', 'RSYNC'])
    const ms = Date.now() - t0
    expect(r.exitCode, r.stdout + r.stderr).toBe(0)
    first = r.json
    expect(first).toMatchObject({ phase: 'committed', method: 'RSYNC', newVersion: v0.version + 1 })
    // Where the time went: every phase the destination and the hub time, known at commit.
    for (const k of ['query', 'prepare', 'copy', 'verify']) expect(first.phases[k], k).toBeGreaterThanOrEqual(0)
    const listed = (await as('alice', ['migrations'])).json
    const row = (listed.migrations ?? listed).find((m: any) => m.id === first.id)
    expect(row.phases.commit).toBeGreaterThanOrEqual(0)
    expect(row.phases.copy).toBeLessThanOrEqual(ms)
    expect(r.stdout).toMatch(/"progress"/)
    expect(await digest(machineDir(1, vm))).toEqual(before)
    await untilLiveCopies(vm, [1])
    expect(existsSync(cacheDir(0, vm))).toBe(true)
    const v1 = await vmRow(vm)
    expect(v1).toMatchObject({ state: 'stored', pmId: pms[1], version: v0.version + 1 })
    expect(v1.chargedStorage).toBeGreaterThan(v0.chargedStorage) // the destination's first period, on arrival
    // Each pm's used memory is the sum of the machines on it (all are 64 MB here): moved, not copied.
    const list = (await as('prov', ['machines'])).json
    const byId = (id: string) => list.pms.find((p: any) => p.pmId === id)
    expect(byId(pms[1]).vms.map((v: any) => v.id)).toContain(vm)
    expect(byId(pms[0]).vms.map((v: any) => v.id)).not.toContain(vm)
    for (const id of pms) expect(byId(id).used.memory).toBe(64 * byId(id).vms.length)
    console.log(`RSYNC first visit: ${(first.bytesDone / MiB).toFixed(1)} MiB moved in ${ms} ms (CLI wall time)`)
  }, 120_000)

  it('a second RSYNC back to the cached copy moves only the changed blocks', async () => {
    await scribble(machineDir(1, vm), 1 * MiB, 8 * MiB) // 16 changed blocks
    const before = await digest(machineDir(1, vm))
    const t0 = Date.now()
    const r = await as('alice', ['migrate', vm, '--to', pms[0], '--method', 'RSYNC'])
    expect(r.exitCode, r.stdout + r.stderr).toBe(0)
    expect(r.json.bytesDone).toBe(1 * MiB)
    expect(await digest(machineDir(0, vm))).toEqual(before)
    await untilLiveCopies(vm, [0])
    console.log(
      `RSYNC return trip: ${(r.json.bytesDone / MiB).toFixed(1)} MiB moved (first visit ${(first.bytesDone / MiB).toFixed(1)} MiB) in ${Date.now() - t0} ms`,
    )
  }, 120_000)

  it('SCP moves it with a full (sparse) copy over the provider SSH port', async () => {
    const before = await digest(machineDir(0, vm))
    const t0 = Date.now()
    const r = await as('alice', ['migrate', vm, '--to', pms[1], '--method', 'SCP'])
    expect(r.exitCode, r.stdout + r.stderr).toBe(0)
    expect(r.json).toMatchObject({ phase: 'committed', method: 'SCP' })
    expect(r.json.bytesDone).toBeGreaterThanOrEqual(24 * MiB)
    expect(r.json.bytesDone).toBeLessThan(40 * MiB) // zeros are not sent: 2 GiB disk, ~25 MiB used
    expect(await digest(machineDir(1, vm))).toEqual(before)
    await untilLiveCopies(vm, [1])
    console.log(`SCP: ${(r.json.bytesDone / MiB).toFixed(1)} MiB moved in ${Date.now() - t0} ms (CLI wall time)`)
  }, 120_000)

  it("refuses what the rules forbid: same PM, a running machine, someone else's machine", async () => {
    expect((await as('alice', ['migrate', vm, '--to', pms[1]])).json.error.code).toBe('MARKET_BAD_INPUT')
    await as('alice', ['start', vm])
    expect((await as('alice', ['migrate', vm, '--to', pms[0]])).json.error.code).toBe('MARKET_ACTION_NOT_ALLOWED')
    await as('alice', ['stop', vm])
    expect((await as('prov', ['migrate', vm, '--to', pms[0]])).json.error.code).toBe('MARKET_FORBIDDEN')
    const list = await as('alice', ['migrations'])
    expect(list.json.migrations.length).toBe(3)
  }, 30_000)
})

describe('faults: nothing lost, exactly one live copy', () => {
  let vm = ''
  let digest0: Record<string, string> = {}
  const reverted = async (r: any, code?: string) => {
    const res = await r
    expect(res.exitCode).not.toBe(0)
    if (code) expect(res.json.error.code).toBe(code)
    const row = await vmRow(vm)
    expect(row).toMatchObject({ state: 'stored', pmId: pms[0] })
    expect(await digest(machineDir(0, vm))).toEqual(digest0)
    await until(async () => (await liveCopies(vm)).join() === '0', 20_000, 'the destination to drop its partial copy')
    const m = await migration(vm)
    expect(m.phase).toBe('failed')
    return res
  }

  beforeAll(async () => {
    await market.restartProvider(0, SLOW) // a slow origin: time to break things mid-copy
    await online(0)
    vm = await newVm(pms[0])
    await scribble(machineDir(0, vm), 64 * MiB)
    digest0 = await digest(machineDir(0, vm))
  }, 60_000)

  it('the destination killed mid-copy: reverted, its partial copy removed when it returns', async () => {
    const { result: run } = await migrateInBackground(vm, pms[1])
    const killedAt = Date.now()
    const code = await market.providers[1].proc.stop('SIGKILL')
    const res = await run
    expect(
      res.exitCode,
      [
        `killed at ${killedAt} code ${code} pid ${market.providers[1].proc.proc.pid}`,
        ...market.providers[0].proc.errLines.slice(-8),
        ...market.providers[1].proc.errLines.slice(-8),
      ].join('\n'),
    ).not.toBe(0)
    expect(await vmRow(vm)).toMatchObject({ state: 'stored', pmId: pms[0] })
    await market.restartProvider(1)
    await online(1)
    await reverted(res)
  }, 90_000)

  it('the hub killed -9 mid-copy and restarted: the open migration is resolved (reverted)', async () => {
    const { result: run } = await migrateInBackground(vm, pms[1])
    await market.hub.stop('SIGKILL')
    await run
    market.hub = spawnVirtuoso(market.hubArgs)
    await market.hub.waitFor(/market key/)
    await until(
      async () => (await migration(vm))?.phase === 'failed',
      40_000,
      'the restarted hub to resolve the migration',
    ).catch((err) => {
      throw new Error(
        `${err.message}; migration ${JSON.stringify('?')}; hub: ${market.hub.errLines.slice(-8).join(' | ')}; dest: ${market.providers[1].proc.errLines.slice(-6).join(' | ')}`,
      )
    })
    await reverted({ exitCode: 1, json: { error: {} } })
  }, 90_000)

  it('heartbeats dropped: reverted within the heartbeat window', async () => {
    await market.restartProvider(1, { dropHeartbeats: true })
    await online(1)
    // How soon it reverts is measured by `npm run bench`; here: it does, for the right reason.
    await reverted(as('alice', ['migrate', vm, '--to', pms[1]]), 'VMMP_STALLED')
  }, 90_000)

  it('a disk that fills up at the destination: VMMP_NO_SPACE, reverted', async () => {
    await market.restartProvider(1, { freeBytes: 4 * MiB })
    await online(1)
    await reverted(as('alice', ['migrate', vm, '--to', pms[1]]), 'VMMP_NO_SPACE')
  }, 90_000)

  it('the origin killed mid-copy: reverted, the origin still holds the machine', async () => {
    await market.restartProvider(1)
    await online(1)
    const { result: run } = await migrateInBackground(vm, pms[1])
    await market.providers[0].proc.stop('SIGKILL')
    const res = await run
    expect(res.exitCode).not.toBe(0)
    await market.restartProvider(0, { corrupt: true })
    await online(0)
    await reverted(res)
  }, 90_000)

  it('a block corrupted in transit: VMMP_CORRUPT, reverted', async () => {
    await market.restartProvider(0, { corrupt: true })
    await online(0)
    await market.restartProvider(1)
    await online(1)
    vm = await newVm(pms[0]) // the test driver forgets machines across a restart: a fresh one
    await scribble(machineDir(0, vm), 4 * MiB)
    digest0 = await digest(machineDir(0, vm))
    await reverted(as('alice', ['migrate', vm, '--to', pms[1]]), 'VMMP_CORRUPT')
  }, 90_000)
})

/** A shell on the guest through the provider's SSH console (ssh2 client, like any `ssh`). */
async function guestShell(port: number, vmId: string, password: string) {
  const { Client } = await import('ssh2')
  const client = new Client()
  let out = ''
  const stream: any = await new Promise((resolve, reject) => {
    client.on('error', reject)
    client.on('ready', () =>
      client.shell({ term: 'xterm', cols: 120, rows: 40 }, (err, s) => (err ? reject(err) : resolve(s))),
    )
    client.connect({ host: '127.0.0.1', port, username: vmId, password, readyTimeout: 20_000 })
  })
  stream.on('data', (d: Buffer) => {
    out += d.toString()
  })
  const expectOut = async (re: RegExp, ms = 30_000) => {
    const end = Date.now() + ms
    while (Date.now() < end) {
      const m = out.match(re)
      if (m) return m
      await sleep(100)
    }
    throw new Error(`guest did not print ${re}; screen: ${JSON.stringify(out.slice(-400))}`)
  }
  return {
    run: (cmd: string) => stream.write(cmd + '\r'),
    expectOut,
    close: () => client.end(),
  }
}

describe('real QEMU guests', () => {
  let q0 = -1
  let q1 = -1
  let vm = ''
  const sshPortOf = async (pmId: string) => {
    const r = await as('alice', ['providers'])
    return (r.json.pms ?? r.json).find((p: any) => p.id === pmId).sshPort as number
  }
  const passwd = async () => {
    const r = await as('alice', ['console', 'passwd', vm, '--password-stdin'], 'migration-console-pw\n')
    expect(r.exitCode, r.stdout + r.stderr).toBe(0)
  }

  beforeAll(async () => {
    q0 = await market.addProvider('qemu')
    q1 = await market.addProvider('qemu')
    await addPm(q0)
    await addPm(q1)
  }, 60_000)

  afterAll(async () => {
    if (vm) await as('alice', ['stop', vm]).catch(() => {})
    // Guests outlive a provider's clean shutdown by design: make sure none is left behind.
    for (const i of [q0, q1]) {
      if (i < 0) continue
      const { execa } = await import('execa')
      await execa('pkill', ['-F', join(machineDir(i, vm), 'qemu.pid')], { reject: false })
    }
  }, 60_000)

  it('a suspended guest moves by RSYNC: its file on disk and its running processes survive', async () => {
    vm = await newVm(pms[q0], ['--config', 'linux-small'])
    expect((await as('alice', ['start', vm])).json.state).toBe('started')
    await passwd()
    let sh = await guestShell(await sshPortOf(pms[q0]), vm, 'migration-console-pw')
    await sh.expectOut(/VIRTUOSO-GUEST-READY|# $/m, 60_000)
    sh.run('echo before-migration > /data/hello; sync; sleep 100000 & echo PID=$!')
    const [, pid] = await sh.expectOut(/PID=(\d+)/)
    sh.close()
    expect((await as('alice', ['suspend', vm])).json.state).toBe('suspended')
    const t0 = Date.now()
    const r = await as('alice', ['migrate', vm, '--to', pms[q1], '--method', 'RSYNC'])
    expect(r.exitCode, r.stdout + r.stderr).toBe(0)
    console.log(
      `QEMU suspended guest, RSYNC first visit: ${(r.json.bytesDone / MiB).toFixed(1)} MiB in ${Date.now() - t0} ms`,
    )
    await untilLiveCopies(vm, [q1])
    expect((await as('alice', ['resume', vm])).json).toMatchObject({ state: 'started', pmId: pms[q1] })
    await passwd() // the console password left with the origin's copy
    sh = await guestShell(await sshPortOf(pms[q1]), vm, 'migration-console-pw')
    sh.run(`cat /data/hello; kill -0 ${pid} && echo ALIVE-${pid}`)
    await sh.expectOut(/before-migration/)
    await sh.expectOut(new RegExp(`ALIVE-${pid}`))
    sh.run('echo second > /data/hello2; sync')
    await sleep(500)
    sh.close()
    expect((await as('alice', ['suspend', vm])).json.state).toBe('suspended')
    const t1 = Date.now()
    const back = await as('alice', ['migrate', vm, '--to', pms[q0], '--method', 'RSYNC'])
    expect(back.exitCode, back.stdout + back.stderr).toBe(0)
    console.log(
      `QEMU return trip by RSYNC to the cached copy: ${(back.json.bytesDone / MiB).toFixed(1)} MiB in ${Date.now() - t1} ms`,
    )
    expect(back.json.bytesDone).toBeLessThan(r.json.bytesDone)
    await untilLiveCopies(vm, [q0])
    expect((await as('alice', ['resume', vm])).json).toMatchObject({ state: 'started', pmId: pms[q0] })
    await passwd()
    sh = await guestShell(await sshPortOf(pms[q0]), vm, 'migration-console-pw')
    sh.run(`cat /data/hello2; kill -0 ${pid} && echo STILL-${pid}`)
    await sh.expectOut(/second/)
    await sh.expectOut(new RegExp(`STILL-${pid}`))
    sh.close()
  }, 240_000)

  it('a stopped machine migrated boots on the destination from its own disk, with the files the buyer wrote', async () => {
    // The machine of the test above, back on q0 and running: its OS and /data live on its disk.
    const sh = await guestShell(await sshPortOf(pms[q0]), vm, 'migration-console-pw')
    sh.run('echo "written ""before stop" > /data/boot-check; sync; echo "sy""nced"')
    await sh.expectOut(/^synced/m)
    sh.close()
    expect((await as('alice', ['stop', vm])).json.state).toBe('stopped')
    const r = await as('alice', ['migrate', vm, '--to', pms[q1], '--method', 'RSYNC'])
    expect(r.exitCode, r.stdout + r.stderr).toBe(0)
    await untilLiveCopies(vm, [q1])
    expect((await as('alice', ['start', vm])).json).toMatchObject({ state: 'started', pmId: pms[q1] })
    await passwd()
    const there = await guestShell(await sshPortOf(pms[q1]), vm, 'migration-console-pw')
    await there.expectOut(/VIRTUOSO-GUEST-READY|# $/m, 90_000)
    there.run('cat /data/boot-check /data/hello2; uname -r')
    await there.expectOut(/written before stop/)
    await there.expectOut(/^second/m)
    there.close()
    expect((await as('alice', ['stop', vm])).json.state).toBe('stopped')
  }, 240_000)
})
