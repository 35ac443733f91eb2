// Each view with plain records in and callbacks out (no network): ink-testing-library frames and keys.
import React from 'react'
import { describe, expect, it, vi } from 'vitest'
import { KEY, mount, tick, until } from './helpers.tsx'
import { Prices } from '../../src/tui/views/Prices.tsx'
import { BuyerMachines } from '../../src/tui/views/BuyerMachines.tsx'
import { ProviderMachines } from '../../src/tui/views/ProviderMachines.tsx'
import { Account } from '../../src/tui/views/Account.tsx'
import { Migrations } from '../../src/tui/views/Migrations.tsx'
import { Console } from '../../src/tui/views/Console.tsx'
import { Log } from '../../src/tui/views/Log.tsx'
import { Login } from '../../src/tui/views/Login.tsx'
import { Signup } from '../../src/tui/views/Signup.tsx'
import {
  configs,
  events,
  ledger,
  migrations,
  NOW,
  pmById,
  pms,
  results,
  vms,
  patPms,
  patVms,
  patLedger,
} from './fixtures.ts'

const H = 19

describe('Login and Signup', () => {
  it('logs in with what was typed, and shows a refusal in the form', async () => {
    const onLogin = vi
      .fn()
      .mockRejectedValueOnce(
        Object.assign(new Error('wrong user name or password'), { code: 'MARKET_BAD_CREDENTIALS' }),
      )
      .mockResolvedValue(undefined)
    const v = mount(<Login width={80} onLogin={onLogin} onSignup={() => {}} />)
    expect(v.frame()).toContain('Log in')
    await v.type('alice')
    await v.press(KEY.enter)
    await v.type('secret12')
    expect(v.frame()).toContain('••••••••')
    expect(v.frame()).not.toContain('secret12')
    await v.press(KEY.enter)
    expect(onLogin).toHaveBeenLastCalledWith('alice', 'secret12')
    await until(v.frame, (f) => f.includes('✗ wrong user name or password'))
    await v.press(KEY.ctrlS)
    expect(onLogin).toHaveBeenCalledTimes(2)
  })
  it('switches to signup with ctrl+n', async () => {
    const onSignup = vi.fn()
    const v = mount(<Login width={80} onLogin={() => {}} onSignup={onSignup} />)
    await v.press(KEY.ctrlN)
    expect(onSignup).toHaveBeenCalled()
  })
  it('signs up a provider, refusing mismatched passwords', async () => {
    const onSignup = vi.fn()
    const v = mount(<Signup width={80} onSignup={onSignup} onLogin={() => {}} />)
    await v.type('pat')
    await v.press(KEY.tab, KEY.right)
    expect(v.frame()).toContain('[provider]')
    await v.press(KEY.tab)
    await v.type('pat@example.org')
    await v.press(KEY.tab)
    await v.type('password1')
    await v.press(KEY.tab)
    await v.type('password2')
    await v.press(KEY.enter)
    expect(v.frame()).toContain('✗ the two passwords differ')
    await v.press('\u007F')
    await v.type('1')
    await v.press(KEY.enter)
    expect(onSignup).toHaveBeenCalledWith({
      user: 'pat',
      type: 'provider',
      email: 'pat@example.org',
      password: 'password1',
    })
  })
})

describe('Market', () => {
  it('shows configurations with market averages and providers beside the average', async () => {
    const onRegister = vi.fn()
    const onSearch = vi.fn()
    const v = mount(
      <Prices
        configs={configs}
        pms={pms}
        accountType="buyer"
        width={80}
        height={H}
        onRegister={onRegister}
        onSearch={onSearch}
      />,
    )
    const f = v.frame()
    expect(f).toContain('Standard configurations (3)')
    expect(f).toMatch(/medium\s+linux\s+1G\s+4G\s+1000\s+0\.04\s+0\.012/)
    expect(f).toMatch(/bravo\s+quinn\s+8000 16G 200G\s+0\.0144 \+50%/)
    expect(f).toContain('avg: cpu 0.0096/h')
    expect(f).toContain('<n> register this')
    await v.press(KEY.down, 'n')
    expect(onRegister).toHaveBeenCalledWith(configs[1])
    await v.press('f')
    expect(onSearch).toHaveBeenCalledWith(configs[1])
    await v.press(KEY.tab)
    expect(v.frame()).not.toContain('<n> register this')
  })
  it('updates live when the records change', () => {
    const v = mount(<Prices configs={configs} pms={pms} accountType="provider" width={80} height={H} />)
    v.rerender(
      <Prices
        configs={configs}
        pms={[...pms, { ...pms[0], id: 'pm-new', name: 'echo', owner: 'zed' }]}
        accountType="provider"
        width={80}
        height={H}
      />,
    )
    expect(v.frame()).toContain('Provider marketplace (4)')
    expect(v.frame()).toContain('echo')
  })
})

describe('BuyerMachines', () => {
  const mountBuyer = (call = vi.fn().mockResolvedValue({}), extra: Record<string, unknown> = {}, readOnly = false) => ({
    call,
    ...mount(
      <BuyerMachines vms={vms} pmById={pmById} configs={configs} width={80} height={H} call={call} {...extra} />,
      { readOnly },
    ),
  })

  it('lists machines with state, version, provider, prices and only the allowed actions', async () => {
    const v = mountBuyer()
    const f = v.frame()
    expect(f).toMatch(/web\s+started\s+3\s+alpha\s+0\.01\/1d\s+0\.0072\/1h/)
    expect(f).toContain('<x> stop!')
    expect(f).toContain('<z> suspend!')
    expect(f).not.toContain('<s> start')
    expect(f).not.toContain('<d> delete')
    await v.press(KEY.down)
    expect(v.frame()).toContain('<s> start')
    expect(v.frame()).toContain('<d> delete!')
    expect(v.frame()).not.toContain('<x> stop')
  })
  it('i opens the Networks view: each network, its machines, their addresses, where each runs, live traffic', async () => {
    const nets = [
      { id: 'net-1', owner: 'alice', name: 'lab', subnet: '10.42.0.0/24', created: 0 },
      { id: 'net-2', owner: 'alice', name: 'empty', subnet: '192.168.9.0/24', created: 0 },
    ]
    const onNet = vms.map((v, k) =>
      k < 2 ? { ...v, netId: 'net-1', address: `10.42.0.${k + 2}`, mac: `02:00:00:00:00:0${k + 2}` } : v,
    )
    // The providers' reports as the hub answers them: a second poll sees the web machine's counters grow.
    const counters = { sentFrames: 10, recvFrames: 12, dropped: 0, sentRate: null, recvRate: null, at: 1_000 }
    const reports = [
      { ...counters, vmId: onNet[0].id, sentBytes: 2048, recvBytes: 3 * 1048576 },
      { ...counters, vmId: onNet[0].id, sentBytes: 5 * 1048576, recvBytes: 4 * 1048576, sentRate: 1048576 },
    ]
    let polls = 0
    const loadTraffic = vi.fn(async () => ({ traffic: [reports[Math.min(polls++, 1)]] }))
    const v = mount(
      <BuyerMachines
        vms={onNet}
        pmById={pmById}
        configs={configs}
        nets={nets}
        width={80}
        height={H}
        call={vi.fn()}
        loadTraffic={loadTraffic}
        trafficPollMs={20}
        now={3_000}
      />,
    )
    // The selected (started) machine's detail line shows its counters (and the rate while it moves).
    await until(v.frame, (f) => /traffic: sent [\d.]+ (KiB|MiB)/.test(f))
    await v.press('i')
    const f = v.frame()
    expect(f).toContain('My networks (2)')
    expect(f).toMatch(/lab\s+2 machines\s+10\.42\.0\.0\/24\s+1 provider\b/)
    expect(f).toMatch(/web\s+10\.42\.0\.2\s+alpha\s+started/)
    expect(f).toMatch(/db\s+10\.42\.0\.3\s+alpha\s+stored/)
    expect(f).toMatch(/empty\s+0 machines\s+192\.168\.9\.0\/24\s+0 providers/)
    // Live: the next poll's figures replace the first ones.
    await until(v.frame, (f) => /web .*started\s+5\.0M\s+4\.0M/.test(f))
    expect(v.frame()).toMatch(/lab .*provider\s+5\.0M\s+4\.0M/)
    await v.press(KEY.esc)
    await until(v.frame, (f) => f.includes('My machines (5)'))
    expect(v.frame()).toContain('traffic: sent 5.0 MiB at 1.0 MiB/s, received 4.0 MiB, 0 dropped\n')
    v.unmount() // its poll stops with it
  })
  it('asks before a dangerous action and runs it on y only', async () => {
    const v = mountBuyer()
    await v.press('x')
    expect(v.frame()).toContain('Stop web on alpha? [y/N]')
    await v.press('n')
    expect(v.call).not.toHaveBeenCalled()
    expect(v.frame()).toContain('cancelled')
    await v.press('x', 'y')
    expect(v.call).toHaveBeenCalledWith('stop', { vmId: 'vm-web-000001' })
    await until(v.frame, (f) => f.includes('web: stopping'))
  })
  it('starts without asking and flashes a refusal instead of crashing', async () => {
    const call = vi
      .fn()
      .mockRejectedValue(
        Object.assign(new Error('db cannot start: alpha is offline'), { code: 'MARKET_PROVIDER_OFFLINE' }),
      )
    const v = mountBuyer(call)
    await v.press(KEY.down, 's')
    expect(call).toHaveBeenCalledWith('start', { vmId: 'vm-db-0000002' })
    await until(v.frame, (f) => f.includes('db cannot start: alpha is offline'))
    expect(v.frame()).toContain('My machines (5)')
  })
  it('read-only hides every action that changes the market', () => {
    const v = mountBuyer(undefined, {}, true)
    const f = v.frame()
    expect(f).not.toContain('<x> stop')
    expect(f).not.toContain('<n> register')
    expect(f).toContain('<v> console')
  })
  it('registers a machine from a configuration through the form', async () => {
    const call = vi.fn().mockResolvedValue({ id: 'vm-x', name: 'x' })
    const v = mountBuyer(call)
    await v.press('n')
    expect(v.frame()).toContain('Register a machine')
    expect(v.frame()).toContain('[small]')
    await v.press(KEY.right)
    expect(v.frame()).toMatch(/memory \(MB\)\s+1024/)
    await v.press(KEY.ctrlS)
    expect(call).toHaveBeenCalledWith('register', { config: 'medium', bidStorage: '0.04', bidRunning: '0.012' })
    await until(v.frame, (f) => f.includes('registered x: press f to find a provider'))
    expect(v.frame()).toContain('My machines')
  })
  it('searches providers for a registered machine, re-sorts, and stores on the choice', async () => {
    const call = vi.fn(async (method: string) => (method === 'search' ? { results } : {}))
    const v = mountBuyer(call)
    await v.press(KEY.down, KEY.down, KEY.down, 'f')
    await until(v.frame, (f) => f.includes('Providers for scratch · sorted by total'))
    expect(call).toHaveBeenCalledWith('search', { vmId: 'vm-new-000004', sort: 'total' })
    await until(v.frame, (f) => /> delta\s+rita/.test(f))
    await v.press('o', 'o')
    await until(v.frame, (f) => f.includes('sorted by storage') && /> bravo/.test(f))
    await v.press(KEY.enter)
    expect(call).toHaveBeenCalledWith('store', { vmId: 'vm-new-000004', pmId: 'pm-bravo-0002' })
    await until(v.frame, (f) => f.includes('scratch: stored on bravo'))
  })
  it('migrates: picks a destination and one of its methods, confirms, then calls migrate', async () => {
    const onWatch = vi.fn()
    const destinations = results.map((r) => ({ ...r, methods: ['RSYNC', 'SCP'] }))
    const call = vi.fn(async (method: string) => (method === 'destinations' ? { destinations } : {}))
    const v = mountBuyer(call, { onWatchMigration: onWatch })
    await v.press(KEY.down, 'm')
    await until(v.frame, (f) => f.includes('Migrate db (now on alpha, stored)'))
    expect(call).toHaveBeenCalledWith('destinations', { vmId: 'vm-db-0000002' })
    await until(v.frame, (f) => f.includes('[RSYNC]'))
    expect(v.frame()).not.toMatch(/> alpha/)
    await v.press(KEY.right)
    expect(v.frame()).toContain('[SCP]')
    await v.press(KEY.enter)
    expect(v.frame()).toContain('Migrate db from alpha to delta by SCP? [y/N]')
    await v.press('y')
    expect(call).toHaveBeenCalledWith('migrate', { vmId: 'vm-db-0000002', to: 'pm-delta-0004', method: 'SCP' })
    await until(
      () => String(onWatch.mock.calls.length),
      (n) => n === '1',
    )
  })
  it('offers only the methods the chosen destination answered to QUERY', async () => {
    const destinations = results.map((r) => ({ ...r, methods: ['RSYNC'] }))
    const call = vi.fn(async (method: string) => (method === 'destinations' ? { destinations } : {}))
    const v = mountBuyer(call)
    await v.press(KEY.down, 'm')
    await until(v.frame, (f) => f.includes('[RSYNC]'))
    await v.press(KEY.right)
    expect(v.frame()).toContain('[RSYNC]')
    expect(v.frame()).not.toContain('SCP')
  })
  it('a migrating machine only offers to watch the migration', async () => {
    const onWatch = vi.fn()
    const v = mountBuyer(undefined, { onWatchMigration: onWatch })
    await v.press('G')
    expect(v.frame()).toContain('<w> watch migration')
    expect(v.frame()).not.toContain('<d> delete')
    await v.press('w')
    expect(onWatch).toHaveBeenCalled()
  })
})

describe('ProviderMachines', () => {
  const mountPat = (call = vi.fn().mockResolvedValue({})) => ({
    call,
    ...mount(
      <ProviderMachines
        pms={patPms}
        vms={patVms}
        online={{ 'pm-alpha-0001': true }}
        width={80}
        height={H}
        call={call}
      />,
    ),
  })

  it('shows used/total resources, state, and the machines on the selected one', async () => {
    const v = mountPat()
    const f = v.frame()
    expect(f).toMatch(/alpha\s+online\s+1500\/8000\s+1\.3G\/16G\s+5G\/200G\s+5/)
    expect(f).toMatch(/charlie\s+draining/)
    expect(f).toContain('Virtual machines on alpha (5)')
    expect(f).toMatch(/bobs\s+bob\s+started/)
    await v.press(KEY.down)
    expect(v.frame()).toContain('Virtual machines on charlie (0)')
    expect(v.frame()).not.toContain('<n> drain')
  })
  it('edits prices with speed, memory and storage locked', async () => {
    const v = mountPat()
    await v.press('e')
    expect(v.frame()).toMatch(/speed \(bogomips\)\s+8000\s+\(locked\)/)
    expect(v.frame()).toMatch(/storage \(MB\)\s+204800\s+\(locked\)/)
    await v.press(KEY.ctrlS)
    expect(v.call).toHaveBeenCalledWith(
      'pm.edit',
      expect.objectContaining({ pmId: 'pm-alpha-0001', speedPrice: '0.000001' }),
    )
    expect(v.call.mock.calls[0][1]).not.toHaveProperty('speed')
  })
  it('adds a machine with its pairing code', async () => {
    const v = mountPat()
    await v.press('a')
    await v.type('CODE-123')
    await v.press(KEY.tab)
    await v.type('delta')
    await v.press(KEY.ctrlS)
    expect(v.call).toHaveBeenCalledWith(
      'pm.add',
      expect.objectContaining({ pairing: 'CODE-123', name: 'delta', runningPeriod: 3600 }),
    )
  })
  it('drains and deletes only after confirmation', async () => {
    const v = mountPat()
    await v.press('n')
    expect(v.frame()).toContain('Drain alpha? 5 machine(s) get 1d to move away, then it goes [y/N]')
    await v.press('y')
    expect(v.call).toHaveBeenCalledWith('pm.delete', { pmId: 'pm-alpha-0001', drain: '1d' })
    await v.press('d')
    expect(v.frame()).toContain('Delete alpha now with its 5 machine(s)? [y/N]')
    await v.press(KEY.esc)
    expect(v.call).toHaveBeenCalledTimes(1)
  })
})

describe('Account', () => {
  it('buyer: balance, charges and burn per machine, a spend sparkline and a runway warning', () => {
    const v = mount(
      <Account
        me={{ username: 'alice', type: 'buyer' }}
        balance={20_000}
        vms={vms}
        pms={[]}
        ledger={ledger}
        now={NOW}
        width={80}
        height={H}
      />,
    )
    const f = v.frame()
    expect(f).toContain('Balance 0.02')
    expect(f).toContain('burning 0.008867/h now')
    expect(f).toContain('⚠ balance runs out in 2h15m')
    expect(f).toMatch(/web\s+started\s+0\.02\s+0\.036\s+-\s+0\.007617/)
    expect(f).toMatch(/spend over the last 9h00m \(total 0\.0976\)/)
    expect(f).toMatch(/[▁▂▃▄▅▆▇█]{20,}/)
  })
  it('provider: income per physical machine and per machine on it', () => {
    const v = mount(
      <Account
        me={{ username: 'pat', type: 'provider' }}
        balance={97_600}
        vms={patVms}
        pms={patPms}
        ledger={patLedger}
        now={NOW}
        width={80}
        height={H}
      />,
    )
    const f = v.frame()
    expect(f).toContain('earning')
    expect(f).toMatch(/alpha\s+5 vms\s+0\.0976/)
    expect(f).toMatch(/└ web\s+alice\s+started\s+0\.0976/)
    expect(f).toContain('income over the last')
    expect(f).not.toContain('⚠')
  })
})

describe('Migrations', () => {
  it('shows live progress, and failures with their reason', () => {
    const v = mount(<Migrations migrations={migrations} vms={vms} pmById={pmById} now={NOW} width={80} height={H} />)
    const f = v.frame()
    expect(f).toContain('Migrations (1 running, 2 in all)')
    expect(f).toContain('batch  alpha → bravo  RSYNC  copying  beat 1s ago')
    expect(f).toMatch(/█+░+ {2}39% {2}400 MiB\/1\.0 GiB {2}80\.0 MiB\/s {2}ETA 8s/)
    expect(f).toContain('cache  alpha → bravo  SCP  FAILED')
    expect(f).toContain('reason: heartbeat lost')
    v.rerender(
      <Migrations
        migrations={[{ ...migrations[0], bytesDone: 1024 * 2 ** 20, phase: 'done' }]}
        vms={vms}
        pmById={pmById}
        now={NOW}
        width={80}
        height={H}
      />,
    )
    expect(v.frame()).toContain('100%')
  })
})

describe('Console', () => {
  it('says so plainly when this session cannot dial providers (the live view: console-view.test.tsx)', async () => {
    const onBack = vi.fn()
    const v = mount(<Console vm={vms[0]} pm={pms[0]} onBack={onBack} />)
    await until(v.frame, (f) => f.includes('this session cannot dial providers'))
    await v.press(KEY.esc)
    expect(onBack).toHaveBeenCalled()
  })
})

describe('Log', () => {
  it('follows the tail as events arrive, pauses when scrolled up', async () => {
    const many = Array.from({ length: 40 }, (_, i) => ({ ...events[0], seq: 100 + i, message: `event number ${i}` }))
    const v = mount(<Log events={many} now={NOW} width={80} height={12} />)
    expect(v.frame()).toContain('event number 39')
    expect(v.frame()).not.toContain('event number 10')
    v.rerender(<Log events={[...many, { ...events[4], seq: 200 }]} now={NOW} width={80} height={12} />)
    await tick()
    expect(v.frame()).toContain('migration.failed')
    await v.press(KEY.up, KEY.up)
    expect(v.frame()).toContain('paused')
    await v.press('f')
    expect(v.frame()).toContain('following')
  })
})
