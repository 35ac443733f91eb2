// The market end to end: `virtuoso dht`, a hub and two provider nodes as real processes on
// 127.0.0.1, driven through the CLI as buyers and providers use it, refusals included.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { stat } from 'node:fs/promises'
import { cli, spawnVirtuoso, startMarket, tempDir } from './harness.ts'

let root: Awaited<ReturnType<typeof tempDir>>
let market: Awaited<ReturnType<typeof startMarket>>
const home = (who: string) => join(root.path, 'home-' + who)
const as = (who: string, args: string[], input?: string) =>
  cli(home(who), [...args, '--json'], { env: market.env, input })

const PRICES = [
  '--speed-unit',
  '100',
  '--speed-price',
  '0.000001',
  '--memory-unit',
  '64',
  '--memory-price',
  '0.000002',
  '--running-period',
  '2',
  '--storage-unit',
  '1024',
  '--storage-price',
  '0.5',
  '--storage-period',
  '1',
]

beforeAll(async () => {
  root = await tempDir()
  market = await startMarket(root.path, { providers: 2, hv: 'test', billingIntervalMs: 200 })
}, 60_000)

afterAll(async () => {
  await market?.stop()
  await root?.remove()
})

let pm0 = ''
let pm1 = ''
let vm = ''

describe('accounts', () => {
  it('signs up and logs in a provider and two buyers; refuses short passwords and duplicates', async () => {
    expect(
      (
        await as(
          'prov',
          ['signup', '--user', 'prov', '--type', 'provider', '--email', 'p@example.org', '--password-stdin'],
          'provider-pass\n',
        )
      ).exitCode,
    ).toBe(0)
    for (const b of ['alice', 'bob']) {
      const su = await as(
        b,
        ['signup', '--user', b, '--type', 'buyer', '--email', `${b}@example.org`, '--password-stdin'],
        `${b}-password\n`,
      )
      expect(su.stdout + su.stderr).toMatch(/"username"/)
    }
    const short = await as(
      'x',
      ['signup', '--user', 'shorty', '--type', 'buyer', '--email', 's@example.org', '--password-stdin'],
      'short\n',
    )
    expect(short.exitCode).not.toBe(0)
    expect(short.json.error.code).toBe('MARKET_BAD_INPUT')
    const dup = await as(
      'x',
      ['signup', '--user', 'alice', '--type', 'buyer', '--email', 'a2@example.org', '--password-stdin'],
      'another-password\n',
    )
    expect(dup.json.error.code).toBe('MARKET_USER_EXISTS')
    const wrong = await as('alice', ['login', '--user', 'alice', '--password-stdin'], 'not-her-password\n')
    expect(wrong.exitCode).not.toBe(0)
    expect(wrong.json.error.code).toBe('MARKET_BAD_CREDENTIALS')
    for (const [u, pw] of [
      ['prov', 'provider-pass'],
      ['alice', 'alice-password'],
      ['bob', 'bob-password'],
    ]) {
      const r = await as(u, ['login', '--user', u, '--password-stdin'], pw + '\n')
      expect(r.exitCode).toBe(0)
    }
    const st = await stat(join(home('alice'), 'profile.json'))
    expect(st.mode & 0o777).toBe(0o600)
    expect((await as('alice', ['whoami'])).json).toMatchObject({ username: 'alice', type: 'buyer', balance: 0 })
  })

  it('gives one clear line and exit 1 without --json', async () => {
    const r = await cli(home('nobody'), ['whoami'], { env: market.env })
    expect(r.exitCode).toBe(1)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/log ?in/i)
  })
})

describe('providers', () => {
  it('binds nodes by pairing code; a wrong or reused code is refused', async () => {
    const bad = await as('prov', ['pm', 'add', '--pairing', 'AAAAA-AAAAA', '--name', 'nope', ...PRICES])
    expect(bad.json.error.code).toBe('MARKET_PAIRING_INVALID')
    const a = await as('prov', ['pm', 'add', '--pairing', market.providers[0].pairing, '--name', 'cheap', ...PRICES])
    expect(a.exitCode).toBe(0)
    pm0 = a.json.id
    expect(a.json.speed).toBeGreaterThan(0)
    const reuse = await as('prov', [
      'pm',
      'add',
      '--pairing',
      market.providers[0].pairing,
      '--name',
      'again',
      ...PRICES,
    ])
    expect(reuse.json.error.code).toBe('MARKET_PAIRING_INVALID')
    const b = await as('prov', [
      'pm',
      'add',
      '--pairing',
      market.providers[1].pairing,
      '--like',
      pm0,
      '--name',
      'dear',
      '--storage-price',
      '0.9',
    ])
    expect(b.exitCode).toBe(0)
    pm1 = b.json.id
    expect(b.json.speedPrice).toBe(a.json.speedPrice)
  })

  it('a buyer cannot use provider actions and vice versa', async () => {
    expect(
      (await as('alice', ['pm', 'add', '--pairing', 'AAAAA-AAAAA', '--name', 'x', ...PRICES])).json.error.code,
    ).toBe('MARKET_FORBIDDEN')
    expect((await as('prov', ['register', '--config', 'small'])).json.error.code).toBe('MARKET_FORBIDDEN')
  })

  it('lists the provider marketplace to anyone', async () => {
    const r = await as('bob', ['providers'])
    expect(r.json.pms.map((p: any) => p.id).sort()).toEqual([pm0, pm1].sort())
  })
})

describe('buyer flow', () => {
  it('registers, searches, is refused storing without funds, stores after a credit', async () => {
    const configs = await as('alice', ['configs'])
    expect(configs.json.configs.length).toBeGreaterThan(0)
    const cfg = configs.json.configs[0].name
    const reg = await as('alice', ['register', '--config', cfg])
    expect(reg.json.state).toBe('registered')
    vm = reg.json.id
    const found = await as('alice', ['search', vm, '--sort', 'storage'])
    expect(found.json.results.map((r: any) => r.pmId)).toEqual([pm0, pm1])
    const poor = await as('alice', ['store', vm, '--on', pm0])
    expect(poor.json.error.code).toBe('MARKET_INSUFFICIENT_FUNDS')
    const credit = await cli(home('op'), [
      'admin',
      'credit',
      'alice',
      '100',
      '--data',
      join(root.path, 'hub'),
      '--json',
    ])
    expect(credit.exitCode).toBe(0)
    const stored = await as('alice', ['store', vm, '--on', pm0])
    expect(stored.json).toMatchObject({ state: 'stored', pmId: pm0 })
  })

  it('follows the statusrelations table and names the allowed actions', async () => {
    const refused = await as('alice', ['resume', vm])
    expect(refused.json.error.code).toBe('MARKET_ACTION_NOT_ALLOWED')
    expect(refused.json.error.message).toMatch(/start/)
    expect((await as('alice', ['start', vm])).json.state).toBe('started')
    expect((await as('alice', ['delete', vm])).json.error.code).toBe('MARKET_ACTION_NOT_ALLOWED')
    const before = (await as('alice', ['machines'])).json.vms[0]
    expect(before.actions.sort()).toEqual(['stop', 'suspend', 'view'])
    const stopped = await as('alice', ['stop', vm])
    expect(stopped.json.state).toBe('stopped')
    expect(stopped.json.version).toBe(before.version + 1)
  })

  it('charges storage at once and running while started, and balances always add up', async () => {
    // The first running period is paid at start and storage at store: no need to let time pass.
    await as('alice', ['start', vm])
    await as('alice', ['stop', vm])
    const acct = (await as('alice', ['account'])).json
    const v = acct.vms.find((x: any) => x.id === vm)
    expect(v.chargedStorage).toBeGreaterThan(0)
    expect(v.chargedRunning).toBeGreaterThan(0)
    const prov = (await as('prov', ['whoami'])).json.balance
    expect(acct.balance + prov).toBe(100_000_000)
  })

  it('answers a forged machine id exactly like a missing one', async () => {
    const forged = await as('bob', ['start', vm])
    const missing = await as('bob', ['start', '00000000-0000-4000-8000-000000000000'])
    expect(forged.json.error.code).toBe('MARKET_NOT_FOUND')
    expect(forged.json.error.code).toBe(missing.json.error.code)
    expect((await as('bob', ['machines'])).json.vms).toEqual([])
  })

  it('the event log shows what concerns the user', async () => {
    const r = await cli(home('alice'), ['log', '--json', '--limit', '100'], { env: market.env })
    const types = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).type)
    expect(types).toContain('vm.store')
  })
})

describe('log --follow', () => {
  it('prints new events as they happen', async () => {
    const follower = spawnVirtuoso(['log', '--follow', '--json', '--limit', '1'], {
      ...market.env,
      VIRTUOSO_HOME: home('alice'),
    })
    // --limit 1 prints the latest event first: once it is out, the follower is subscribed.
    await follower.waitFor(/"type":/, 15_000)
    const reg = await as('alice', ['register', '--config', 'small', '--name', 'followed'])
    const [line] = await follower.waitFor(new RegExp(`^.*"vmId":"${reg.json.id}".*$`), 15_000)
    expect(JSON.parse(line).type).toBe('vm.register')
    await follower.stop('SIGINT')
  })
})

describe('operator', () => {
  it('networks: create, register --net, list, machines shows the address, delete refused while used', async () => {
    const created = await as('alice', ['net', 'create', 'lab', '--subnet', '192.168.5.0/24'])
    expect(created.json).toMatchObject({ name: 'lab', subnet: '192.168.5.0/24' })
    expect((await as('alice', ['net', 'create', 'lab'])).json.error.code).toBe('MARKET_NET_EXISTS')
    const uplink = await cli(home('alice'), ['net', 'create', 'up', '--subnet', '10.0.2.0/24'], { env: market.env })
    expect(uplink.exitCode).not.toBe(0)
    expect(uplink.stderr.trim().split('\n')).toEqual([
      expect.stringContaining("overlaps 10.0.2.0/24, the guests' uplink"),
    ])
    const reg = await as('alice', ['register', '--config', 'small', '--name', 'labvm', '--net', 'lab'])
    expect(reg.json).toMatchObject({ address: '192.168.5.2' })
    expect(reg.json.mac).toMatch(/^02(:[0-9a-f]{2}){5}$/)
    const list = await as('alice', ['net', 'list'])
    const lab = list.json.networks.find((n: any) => n.name === 'lab')
    expect(lab.members.map((m: any) => [m.name, m.address])).toEqual([['labvm', '192.168.5.2']])
    const text = await cli(home('alice'), ['machines'], { env: market.env })
    expect(text.stdout).toMatch(/labvm .*lab 192\.168\.5\.2/)
    const inUse = await cli(home('alice'), ['net', 'delete', 'lab'], { env: market.env })
    expect(inUse.exitCode).not.toBe(0)
    expect(inUse.stderr.trim().split('\n')).toHaveLength(1)
    expect((await as('alice', ['delete', reg.json.id])).exitCode).toBe(0)
    expect((await as('alice', ['net', 'delete', 'lab'])).exitCode).toBe(0)
    expect((await as('bob', ['net', 'delete', 'lab'])).json.error.code).toBe('MARKET_NOT_FOUND')
  })

  it('admin credit refuses when the hub data dir is wrong', async () => {
    const r = await cli(home('op'), ['admin', 'credit', 'alice', '1', '--data', join(root.path, 'nowhere'), '--json'])
    expect(r.exitCode).not.toBe(0)
    expect(r.json.error.code).toBe('NODE_UNREACHABLE')
  })

  it('the hub survives kill -9 with the same market key and every table', async () => {
    const before = (await as('alice', ['machines'])).json.vms
    await market.hub.stop('SIGKILL')
    market.hub = spawnVirtuoso(market.hubArgs)
    const [, key] = await market.hub.waitFor(/market key: ([0-9a-f]{64})/)
    expect(key).toBe(market.market)
    const after = (await as('alice', ['machines'])).json.vms
    expect(after.map((v: any) => [v.id, v.state, v.version])).toEqual(
      before.map((v: any) => [v.id, v.state, v.version]),
    )
    // providers reconnect on their own; until then the hub says so plainly
    let started: any
    for (let i = 0; i < 20; i++) {
      started = (await as('alice', ['start', vm])).json
      if (started.error?.code !== 'MARKET_PROVIDER_OFFLINE' && started.error?.code !== 'NODE_OFFLINE') break
      await new Promise((r) => setTimeout(r, 500))
    }
    expect(started.state).toBe('started')
    expect((await as('alice', ['stop', vm])).json.state).toBe('stopped')
  })

  it('SIGTERM shuts the hub down cleanly', async () => {
    expect(await market.hub.stop('SIGTERM')).toBe(0)
    market.hub = spawnVirtuoso(market.hubArgs)
    await market.hub.waitFor(/market key/)
  })
})
