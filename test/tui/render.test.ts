// The TUI's pure render functions: records in, rows and strings out.
import { describe, expect, it } from 'vitest'
import { bytes, clock, duration, mb, money, percent, period, truncate } from '../../src/tui/render/format.ts'
import { fitColumns, renderTable, scrollStart } from '../../src/tui/render/table.ts'
import {
  averagesLine,
  configRow,
  marketAverages,
  providerRow,
  unitPrices,
  versus,
} from '../../src/tui/render/prices.ts'
import { free, pmRow, pmState, pmVmRow, vmActions, vmDetails, vmRow } from '../../src/tui/render/machines.ts'
import { nextSort, searchRow, sortResults, totalPerDay } from '../../src/tui/render/search.ts'
import {
  balanceWarning,
  bucketLedger,
  burnPerHour,
  buyerAccountRow,
  earnedBy,
  providerAccountRows,
  runway,
  sparkline,
  totalBurn,
} from '../../src/tui/render/account.ts'
import {
  etaMs,
  heartbeatAge,
  isDone,
  isFailed,
  migrationCard,
  orderMigrations,
  progressBar,
} from '../../src/tui/render/migrations.ts'
import { eventRow, isAlarm, orderEvents } from '../../src/tui/render/log.ts'
import {
  cycleChoice,
  editText,
  firstField,
  initialValues,
  nextField,
  shown,
  type Field,
} from '../../src/tui/render/form.ts'
import {
  configValues,
  editParams,
  registerFields,
  registerParams,
  onConfigChange,
} from '../../src/tui/render/register.ts'
import { addFields, addParams, pmEditFields, pmEditParams } from '../../src/tui/render/pmform.ts'
import {
  configs,
  events,
  ledger,
  migrations,
  NOW,
  pmById,
  pms,
  results,
  vm,
  vms,
  patPms,
  patVms,
  patLedger,
} from './fixtures.ts'

describe('format', () => {
  it('formats money, periods, durations, sizes', () => {
    expect(money(1_500_000)).toBe('1.5')
    expect(money(null)).toBe('-')
    expect(money(100.4)).toBe('0.0001')
    expect(period(86400)).toBe('1d')
    expect(period(7200)).toBe('2h')
    expect(period(90)).toBe('90s')
    expect(duration(45_000)).toBe('45s')
    expect(duration(130_000)).toBe('2m10s')
    expect(duration(3 * 3600_000 + 5 * 60_000)).toBe('3h05m')
    expect(duration(50 * 3600_000)).toBe('2d2h')
    expect(bytes(80 * 2 ** 20)).toBe('80.0 MiB')
    expect(bytes(512)).toBe('512 B')
    expect(mb(1536)).toBe('1.5G')
    expect(mb(256)).toBe('256M')
    expect(percent(1, 3)).toBe(33)
    expect(percent(5, 0)).toBe(0)
    expect(truncate('abcdef', 4)).toBe('abc…')
    expect(clock(NOW - 60_000, NOW)).toBe('11:59:00')
    expect(clock(NOW - 3 * 86_400_000, NOW)).toBe('2025-05-29')
  })
})

describe('table', () => {
  const cols = [
    { header: 'NAME', grow: true },
    { header: 'N', align: 'right' as const },
  ]
  it('keeps natural widths when they fit and gives spare width to the grow column', () => {
    expect(fitColumns(cols, [['alpha', '1']], 20)).toEqual([17, 1])
  })
  it('shrinks the widest column to fit, not below its minimum', () => {
    const w = fitColumns([{ header: 'A' }, { header: 'B', min: 10 }], [['x'.repeat(30), 'y'.repeat(30)]], 30)
    expect(w[0] + w[1] + 2).toBe(30)
    expect(w[1]).toBeGreaterThanOrEqual(10)
  })
  it('renders aligned rows', () => {
    const t = renderTable(
      cols,
      [
        ['a', '10'],
        ['bb', '2'],
      ],
      10,
    )
    expect(t.header).toBe('NAME     N')
    expect(t.lines).toEqual(['a       10', 'bb       2'])
  })
  it('scrolls to keep the selection in view', () => {
    expect(scrollStart(0, 100, 10)).toBe(0)
    expect(scrollStart(50, 100, 10)).toBe(45)
    expect(scrollStart(99, 100, 10)).toBe(90)
    expect(scrollStart(3, 5, 10)).toBe(0)
  })
})

describe('market', () => {
  it('shows a configuration with its market-average prices', () => {
    expect(configRow(configs[0])).toEqual(['small', 'linux', '256M', '2G', '500', '0.01', '0.0036'])
    expect(configRow(configs[2])[1]).toBe('blank')
  })
  it('normalizes asks and compares each provider with the average', () => {
    expect(unitPrices(pms[0])).toEqual({ speedHour: 7200, memoryHour: 14400, storageDay: 10000 })
    const avg = marketAverages(pms)!
    expect(avg.speedHour).toBeCloseTo(9600)
    expect(versus(7200, avg.speedHour)).toBe('-25%')
    expect(versus(9600, 9600)).toBe('=avg')
    expect(marketAverages([])).toBeNull()
    const row = providerRow(pms[1], avg)
    expect(row.slice(0, 3)).toEqual(['bravo', 'quinn', '8000 16G 200G'])
    expect(row[3]).toBe('0.0144 +50%')
    expect(providerRow(pms[2], avg)[0]).toBe('charlie (draining)')
    expect(averagesLine(avg)).toContain('cpu 0.0096/h')
    expect(averagesLine(null)).toContain('no providers')
  })
})

describe('machines', () => {
  it('offers exactly the statusrelations actions of each state (report §6.1.7)', () => {
    expect(vmActions({ state: 'registered' })).toEqual(['search', 'edit', 'store', 'delete'])
    expect(vmActions({ state: 'stored' })).toEqual(['start', 'migrate', 'delete'])
    expect(vmActions({ state: 'started' })).toEqual(['stop', 'view', 'suspend'])
    expect(vmActions({ state: 'stopped' })).toEqual(['start', 'migrate', 'delete'])
    expect(vmActions({ state: 'suspended' })).toEqual(['resume', 'migrate', 'delete'])
    expect(vmActions({ state: 'migrating' })).toEqual(['migrationstatus'])
    expect(vmActions({ state: 'started', actions: ['stop', 'bogus'] })).toEqual(['stop'])
  })
  it('renders a buyer machine with its provider and prices', () => {
    expect(vmRow(vms[0], pmById)).toEqual([
      'web',
      'started',
      '3',
      'alpha',
      '0.01/1d',
      '0.0072/1h',
      'stop,console,suspend',
    ])
    expect(vmRow(vms[3], pmById)).toEqual([
      'scratch',
      'registered',
      '0',
      '-',
      '-',
      '-',
      'find providers,edit,store on,delete',
    ])
    expect(vmDetails(vms[3], undefined)[1]).toBe('bids: storage 0.01/day, running 0.0036/hour')
    expect(vmDetails(vms[0], pms[0])[1]).toContain('charged 0.056')
    const onNet = { ...vms[0], netId: 'n1', address: '10.42.0.2', mac: '02:00:00:00:00:01' }
    expect(vmDetails(onNet, pms[0]).at(-1)).toBe('network address 10.42.0.2, MAC 02:00:00:00:00:01')
    expect(vmDetails(vms[0], pms[0]).some((l) => l.startsWith('network'))).toBe(false)
  })
  it('renders a provider machine with used/total resources and state', () => {
    expect(pmRow({ ...pms[0], online: true }, 2)).toEqual(['alpha', 'online', '1500/8000', '1.3G/16G', '5G/200G', '2'])
    expect(pmState({ ...pms[0], online: false })).toBe('offline')
    expect(pmState(pms[2])).toBe('draining')
    expect(pmState(pms[0])).toBe('?')
    expect(free(pms[0])).toEqual({ speed: 6500, memory: 15104, storage: 199680 })
    expect(pmVmRow(vms[0])).toEqual(['web', 'alice', 'started', '256M', '2G', '500', '0.0072/1h'])
  })
})

describe('search', () => {
  it('sorts by running, storage or total price', () => {
    expect(sortResults(results, 'running').map((r) => r.name)).toEqual(['delta', 'alpha', 'bravo'])
    expect(sortResults(results, 'storage').map((r) => r.name)).toEqual(['bravo', 'delta', 'alpha'])
    expect(sortResults(results, 'total').map((r) => r.name)).toEqual(['delta', 'alpha', 'bravo'])
    expect(totalPerDay(results[0])).toBe(10_000 + 7_200 * 24)
    expect(nextSort('total')).toBe('running')
    expect(nextSort('storage')).toBe('total')
  })
  it('renders a result row', () => {
    expect(searchRow(results[2])).toEqual(['delta', 'rita', '0.008', '0.003', '0.08', '1d/1h', 'ok'])
  })
})

describe('account', () => {
  it('computes the burn of each machine: storage once stored, running only while started', () => {
    expect(burnPerHour(vms[0])).toBeCloseTo(10_000 / 24 + 7_200)
    expect(burnPerHour(vms[1])).toBeCloseTo(10_000 / 24)
    expect(burnPerHour(vms[3])).toBe(0)
    expect(totalBurn(vms)).toBeCloseTo(7_200 + (4 * 10_000) / 24)
  })
  it('warns before the balance runs out', () => {
    expect(runway(7_200, 7_200)).toBe(3_600_000)
    expect(runway(1, 0)).toBeNull()
    expect(balanceWarning(1_000_000_000, 7_200)).toBeNull()
    expect(balanceWarning(7_200 * 3, 7_200)).toBe(
      'balance runs out in 3h00m at 0.0072/h: deposit, or stop/suspend machines',
    )
    expect(balanceWarning(0, 7_200)).toContain('exhausted')
    expect(balanceWarning(-5, 0)).toContain('negative')
    expect(balanceWarning(0, 0)).toBeNull()
  })
  it('draws a sparkline scaled to the largest value', () => {
    expect(sparkline([0, 1, 2, 4, 8])).toBe('▁▂▃▅█')
    expect(sparkline([0, 0])).toBe('▁▁')
  })
  it('buckets spend and income over time, leaving deposits out', () => {
    const spend = bucketLedger(ledger, 'alice', 'spend', NOW, 10 * 3_600_000, 10)
    expect(spend.reduce((a, b) => a + b, 0)).toBe(4 * 10_000 + 8 * 7_200)
    expect(spend[0]).toBe(0)
    expect(bucketLedger(ledger, 'pat', 'income', NOW, 10 * 3_600_000, 10).reduce((a, b) => a + b, 0)).toBe(
      4 * 10_000 + 8 * 7_200,
    )
    expect(bucketLedger(ledger, 'pat', 'spend', NOW, 10 * 3_600_000, 10).every((x) => x === 0)).toBe(true)
  })
  it('renders buyer and provider account rows', () => {
    expect(buyerAccountRow(vms[0])).toEqual(['web', 'started', '0.02', '0.036', '-', '0.007617'])
    expect(earnedBy(patLedger, 'pat', (e) => e.vmId === 'vm-web-000001')).toBe(4 * 10_000 + 8 * 7_200)
    const rows = providerAccountRows(patPms[0], patVms, patLedger, 'pat')
    expect(rows[0].slice(0, 4)).toEqual(['alpha', '', '5 vms', '0.0976'])
    expect(rows[1][0]).toBe('  └ web')
  })
})

describe('migrations', () => {
  it('draws a progress bar', () => {
    expect(progressBar(1, 2, 10)).toBe('█████░░░░░')
    expect(progressBar(0, 0, 4)).toBe('░░░░')
    expect(progressBar(9, 3, 4)).toBe('████')
  })
  it('reads the ETA as seconds left or an absolute time, else from the rate', () => {
    expect(etaMs({ eta: 8, rate: null, bytesDone: 0, bytesTotal: 0 }, NOW)).toBe(8000)
    expect(etaMs({ eta: NOW + 5000, rate: null, bytesDone: 0, bytesTotal: 0 }, NOW)).toBe(5000)
    expect(etaMs({ eta: null, rate: 10, bytesDone: 50, bytesTotal: 100 }, NOW)).toBe(5000)
    expect(etaMs({ eta: null, rate: null, bytesDone: 50, bytesTotal: 100 }, NOW)).toBeNull()
    expect(heartbeatAge({ lastHeartbeat: NOW - 1500 }, NOW)).toBe(1500)
  })
  it('renders a running migration and a failed one with its reason', () => {
    const live = migrationCard(migrations[0], { vm: 'batch', from: 'alpha', to: 'bravo' }, NOW, 80)
    expect(live.tone).toBe('ok')
    expect(live.title).toBe('batch  alpha → bravo  RSYNC  copying  beat 1s ago')
    expect(live.detail).toContain(' 39%  400 MiB/1.0 GiB  80.0 MiB/s  ETA 8s')
    const late = migrationCard(
      { ...migrations[0], lastHeartbeat: NOW - 9000 },
      { vm: 'b', from: 'a', to: 'c' },
      NOW,
      80,
    )
    expect(late.tone).toBe('late')
    expect(late.title).toContain('(late)')
    const failed = migrationCard(migrations[1], { vm: 'cache', from: 'alpha', to: 'bravo' }, NOW, 100)
    expect(failed.tone).toBe('failed')
    expect(failed.title).toContain('FAILED')
    expect(failed.detail).toContain('reason: heartbeat lost: bravo went silent for 5 s; the machine stays on alpha')
    const done = migrationCard({ ...migrations[0], phase: 'done' }, { vm: 'b', from: 'a', to: 'c' }, NOW, 80)
    expect(done.detail).toContain('100%')
    const phases = { query: 12, prepare: 80, copy: 1210, verify: 40, commit: 9 }
    const timed = migrationCard(
      { ...migrations[0], phase: 'committed', started: NOW - 2000, finished: NOW - 500, phases },
      { vm: 'b', from: 'a', to: 'c' },
      NOW,
      120,
    )
    expect(timed.tone).toBe('done')
    expect(timed.detail).toBe(
      '  done in 1.5s, 1.0 GiB moved: query 12ms · prepare 80ms · copy 1.21s · verify 40ms · commit 9ms',
    )
    expect(isFailed(migrations[1])).toBe(true)
    expect(isDone({ phase: 'done', error: null })).toBe(true)
    expect(orderMigrations([migrations[1], migrations[0]]).map((m) => m.id)).toEqual(['mig-1', 'mig-0'])
  })
})

describe('log', () => {
  it('orders events and renders rows', () => {
    expect(orderEvents([events[2], events[0]]).map((e) => e.seq)).toEqual([1, 3])
    expect(eventRow(events[4], NOW)).toEqual([
      '11:59:00',
      'hub',
      'migration.failed',
      'cache to bravo failed: heartbeat lost',
    ])
    expect(isAlarm(events[4])).toBe(true)
    expect(isAlarm(events[0])).toBe(false)
  })
})

describe('forms', () => {
  const fields: Field[] = [
    { name: 'a', label: 'a', kind: 'locked', value: 'x' },
    { name: 'b', label: 'b' },
    { name: 'c', label: 'c', kind: 'choice', options: ['p', 'q'] },
    { name: 'd', label: 'd', kind: 'secret' },
  ]
  it('moves between editable fields, skipping locked ones', () => {
    expect(firstField(fields)).toBe(1)
    expect(nextField(fields, 1, 1)).toBe(2)
    expect(nextField(fields, 3, 1)).toBe(1)
    expect(nextField(fields, 1, -1)).toBe(3)
  })
  it('edits text and cycles choices', () => {
    expect(editText('ab', 'c', 'c')).toBe('abc')
    expect(editText('ab', '', 'backspace')).toBe('a')
    expect(editText('ab', 'x', 'ctrl+x')).toBe('ab')
    expect(editText('ab', '', 'ctrl+u')).toBe('')
    expect(cycleChoice(fields[2], 'p', 1)).toBe('q')
    expect(cycleChoice(fields[2], 'p', -1)).toBe('q')
    expect(initialValues(fields)).toEqual({ a: 'x', b: '', c: 'p', d: '' })
    expect(shown(fields[3], 'abc')).toBe('•••')
  })
  it('register picks a catalog image; its OS is not sent with it', () => {
    const images = [
      {
        name: 'debian-12',
        os: 'debian-12',
        size: 1,
        digest: 'a'.repeat(64),
        publisher: 'hub',
        servers: ['hub'],
        published: 1,
      },
    ]
    expect(registerFields(configs, 'medium').some((f) => f.name === 'image')).toBe(false)
    const f = registerFields(configs, 'medium', images)
    const img = f.find((x) => x.name === 'image')!
    expect(img.options).toEqual(['none', 'debian-12'])
    const values = { ...initialValues(f), image: 'debian-12' }
    expect(registerParams(values, configs)).toEqual({
      config: 'medium',
      image: 'debian-12',
      bidStorage: '0.04',
      bidRunning: '0.012',
    })
    expect(registerParams({ ...values, memory: '2048' }, configs)).toMatchObject({ memory: 2048, image: 'debian-12' })
    expect(registerParams({ ...values, image: 'none' }, configs)).toEqual({
      config: 'medium',
      bidStorage: '0.04',
      bidRunning: '0.012',
    })
  })
  it('a machine receiving its image shows the delivery in its row and details', () => {
    const v = {
      ...vms[3],
      state: 'migrating' as const,
      image: 'debian-12',
      imageDigest: 'b'.repeat(64),
      delivery: {
        pmId: 'pm-alpha-1',
        image: 'debian-12',
        bytesDone: 512 * 1048576,
        bytesTotal: 2048 * 1048576,
        started: 1,
      },
    }
    expect(vmRow(v, pmById)[1]).toBe('migrating 25%')
    expect(vmDetails(v, undefined)[1]).toMatch(/^image debian-12: delivering to pm-alpha, 25% of 2G/)
  })
  it('registers by configuration name when unchanged, else by explicit sizes', () => {
    const f = registerFields(configs, 'medium')
    const values = initialValues(f)
    expect(values).toMatchObject({
      config: 'medium',
      memory: '1024',
      bidStorage: '0.04',
      bidRunning: '0.012',
      os: 'linux',
    })
    expect(registerParams(values, configs)).toEqual({ config: 'medium', bidStorage: '0.04', bidRunning: '0.012' })
    expect(registerParams({ ...values, memory: '2048', name: 'x', bidRunning: '' }, configs)).toEqual({
      memory: 2048,
      hd: 4096,
      speed: 1000,
      bidStorage: '0.04',
      name: 'x',
      os: 'linux',
    })
    expect(registerParams({ ...values, config: 'custom', os: 'none' }, configs).os).toBeNull()
    expect(() => registerParams({ ...values, memory: 'lots' }, configs)).toThrow(/memory/)
    expect(() => registerParams({ ...values, bidStorage: '1e3' }, configs)).toThrow(/storage bid/)
    expect(configValues(configs[2]).os).toBe('none')
    const change = onConfigChange(configs, 'medium')
    expect(change({ ...values, config: 'small' }).memory).toBe('256')
    expect(
      editParams('vm1', { name: 'n', memory: '1', hd: '2', speed: '3', os: 'none', bidStorage: '', bidRunning: '0.1' }),
    ).toEqual({ vmId: 'vm1', name: 'n', bidRunning: '0.1', memory: 1, hd: 2, speed: 3, os: null })
  })
  it('adds and edits a physical machine; the locked fields are shown locked and never sent', () => {
    const f = pmEditFields(pms[0])
    expect(f.filter((x) => x.kind === 'locked').map((x) => x.name)).toEqual(['processor', 'speed', 'memory', 'storage'])
    const p = pmEditParams('pm1', initialValues(f))
    expect(p).toEqual({
      pmId: 'pm1',
      name: 'alpha',
      speedUnit: 500,
      memoryUnit: 256,
      runningPeriod: 3600,
      storageUnit: 1024,
      speedPrice: '0.000001',
      memoryPrice: '0.000001',
      storagePrice: '0.01',
      storagePeriodDays: '1',
    })
    expect(p).not.toHaveProperty('speed')
    expect(() => addParams(initialValues(addFields()))).toThrow(/pairing/)
    expect(addParams({ ...initialValues(addFields()), pairing: ' abc ', name: 'n1' })).toMatchObject({
      pairing: 'abc',
      name: 'n1',
      speedPrice: '0.000002',
    })
    expect(initialValues(addFields(pms[1])).speedPrice).toBe('0.000002')
    expect(() => pmEditParams('pm1', { ...initialValues(f), storagePeriod: 'soon' })).toThrow(/storage period/)
  })
})

void vm

describe('migration rows from the hub', () => {
  it('reads the market row shape: ends as objects, error as {code, message}', async () => {
    const { toMigrationRow } = await import('../../src/tui/hooks/use-market.ts')
    const row = toMigrationRow({
      id: 'm1',
      vmId: 'v1',
      from: { pmId: 'pa', nodeKey: 'k', name: 'a', owner: 'o' },
      to: { pmId: 'pb', nodeKey: 'k2', name: 'b', owner: 'o' },
      method: 'RSYNC',
      phase: 'failed',
      bytesDone: 0,
      bytesTotal: 10,
      rate: 0,
      eta: null,
      lastHeartbeat: null,
      error: { code: 'VMMP_STALLED', message: 'went silent' },
    })
    expect(row).toMatchObject({ from: 'pa', to: 'pb', error: 'went silent' })
  })
})
