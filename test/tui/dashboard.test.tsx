// The data layer (replica, derive) and the whole dashboard against a small in-memory stand-in for
// the market client (view tests only: it answers calls from tables and pushes feed rows on demand).
import React from 'react'
import { describe, expect, it, vi } from 'vitest'
import { render } from 'ink-testing-library'
import { App } from '../../src/tui/Dashboard.tsx'
import { bySeq, derive, Replica } from '../../src/tui/hooks/use-market.ts'
import { FakeMarket, put, snapshot } from './fake-market.ts'
import { KEY, tick, until } from './helpers.tsx'
import { NOW, vms } from './fixtures.ts'
import { fakeOpener } from './fake-console.ts'
import type { OpenConsole } from '../../src/tui/console-link.ts'

describe('replica', () => {
  it('applies puts and deletes and tracks the last seq', () => {
    const r = new Replica()
    r.apply([put('vm', 'a', { id: 'a' }), put('vm', 'b', { id: 'b' })])
    r.apply([{ seq: 99, table: 'vm', key: 'a', value: null }])
    expect(r.rows('vm')).toEqual([{ id: 'b' }])
    expect(r.seq).toBe(99)
    r.merge('vm', [{ id: 'b', stale: true }, { id: 'c' }], (x) => x.id)
    expect(r.rows('vm')).toEqual([{ id: 'b' }, { id: 'c' }])
  })
  it('derives what each view shows: my machines, as buyer or as provider', () => {
    const r = new Replica()
    r.apply(snapshot())
    const alice = derive(r, { username: 'alice', type: 'buyer' })
    expect(alice.vms.map((v) => v.name)).toEqual(['web', 'db', 'cache', 'scratch', 'batch'])
    expect(alice.balance).toBe(4_900_000)
    expect(alice.configs.map((c) => c.name)).toEqual(['small', 'medium', 'large-blank'])
    const pat = derive(r, { username: 'pat', type: 'provider' }, { balance: 7 })
    expect(pat.vms).toHaveLength(4)
    expect(pat.balance).toBe(7)
    expect(bySeq([{ seq: 2 }, { seq: 1 }, { seq: 2 }])).toEqual([{ seq: 1 }, { seq: 2 }])
  })
})

describe('dashboard', () => {
  const start = (opts: { readOnly?: boolean; token?: string; openConsole?: OpenConsole } = {}) => {
    const api = new FakeMarket()
    api.token = opts.token ?? ''
    const onQuit = vi.fn()
    const onSession = vi.fn()
    const inst = render(
      <App
        api={api}
        onQuit={onQuit}
        onSession={onSession}
        readOnly={opts.readOnly}
        openConsole={opts.openConsole}
        noColor
        size={{ columns: 80, rows: 24 }}
        now={NOW}
        market={'ab'.repeat(32)}
      />,
    )
    const frame = () => inst.lastFrame() ?? ''
    const press = async (...keys: string[]) => {
      for (const k of keys) {
        inst.stdin.write(k)
        await tick(k === KEY.esc ? 60 : 25)
      }
    }
    return { api, inst, frame, press, onQuit, onSession }
  }

  it('logs in, then shows the market and switches views live from the feed', async () => {
    const t = start()
    expect(t.frame()).toContain('Log in')
    for (const ch of 'alice') await t.press(ch)
    await t.press(KEY.enter)
    for (const ch of 'wrongpass') await t.press(ch)
    await t.press(KEY.enter)
    await until(t.frame, (f) => f.includes('✗ wrong user name or password'))
    for (let i = 0; i < 9; i++) await t.press('\u007F')
    for (const ch of 'password1') await t.press(ch)
    await t.press(KEY.enter)
    await until(t.frame, (f) => f.includes('Standard configurations (3)'))
    expect(t.onSession).toHaveBeenCalledWith({
      token: 'tok',
      expires: NOW + 1e9,
      user: { username: 'alice', type: 'buyer' },
    })
    expect(t.api.token).toBe('tok')
    expect(t.frame()).toContain('alice (buyer)  balance 4.9')
    expect(t.frame()).toContain('<1-7> views')
    await t.press('2')
    await until(t.frame, (f) => f.includes('My machines (5)'))
    // A change arrives on the feed: the machine's row follows, no refresh.
    t.api.push([put('vm', vms[1].id, { ...vms[1], state: 'started', version: 2 })])
    await until(t.frame, (f) => /db\s+started\s+2/.test(f))
    await t.press('4')
    await until(t.frame, (f) => f.includes('Migrations (1 running, 2 in all)'))
    await t.press('5')
    await until(t.frame, (f) => f.includes('migration.failed'))
    await t.press('3')
    await until(t.frame, (f) => f.includes('Charges per machine'))
    await t.press('q')
    expect(t.onQuit).toHaveBeenCalled()
  })

  it('7 lists the image catalog with who serves it; n opens the register form with that image', async () => {
    const t = start({ token: 'tok' })
    await until(t.frame, (f) => f.includes('Standard configurations'))
    await t.press('7')
    const f = await until(t.frame, (f) => f.includes('Images (2)'))
    expect(f).toMatch(/debian-12\s+debian\s+413 MiB\s+d1d1d1d1d1d1\s+hub\s+2\s+1/)
    expect(f).toContain('served by hub, alpha+bravo')
    expect(f).toContain('my machines from it: db')
    await t.press(KEY.down)
    await until(t.frame, (f) => f.includes('served by node cdcdcdcd') && f.includes('none of my machines'))
    await t.press(KEY.up, 'n')
    await until(t.frame, (f) => f.includes('Register a machine'))
    expect(t.frame()).toContain('image             none [debian-12] linux')
    await t.press(KEY.ctrlS)
    await until(t.frame, (f) => f.includes('My machines (5)'))
    expect(t.api.calls).toContainEqual(['register', expect.objectContaining({ config: 'small', image: 'debian-12' })])
  })

  it("a machine's details show its image, its delivery and its attached media", async () => {
    const t = start({ token: 'tok' })
    await until(t.frame, (f) => f.includes('Standard configurations'))
    await t.press('2')
    await until(t.frame, (f) => f.includes('My machines (5)'))
    await t.press(KEY.down)
    const f = await until(t.frame, (f) => f.includes('image debian-12'))
    expect(f).toContain('image debian-12 (digest d1d1d1d1d1d1…), delivered 413M in 21.4 s')
    expect(f).toContain('media rescue.iso (4.9 MiB, digest c0c0c0c0c0c0…) as its CD-ROM')
  })

  it('resumes a saved session, confirms a dangerous action and flashes its refusal', async () => {
    const t = start({ token: 'tok' })
    await until(t.frame, (f) => f.includes('Standard configurations'))
    await t.press('2')
    await until(t.frame, (f) => f.includes('<x> stop!'))
    await t.press('x')
    expect(t.frame()).toContain('Stop web on alpha? [y/N]')
    await t.press('y')
    await until(t.frame, (f) => f.includes('web cannot stop: alpha did not answer within 10 s'))
    expect(t.api.calls).toContainEqual(['stop', { vmId: 'vm-web-000001' }])
  })

  it('opens the console of a started machine: keys go to it, Ctrl-] comes back, 6 reopens it', async () => {
    const o = fakeOpener({ repaint: 'VIRTUOSO-GUEST-READY\r\n/ # ' })
    const t = start({ token: 'tok', openConsole: o.open })
    await until(t.frame, (f) => f.includes('Standard configurations'))
    await t.press('2')
    await until(t.frame, (f) => f.includes('<v> console'))
    await t.press('v')
    await until(t.frame, (f) => f.includes('VIRTUOSO-GUEST-READY'))
    expect(t.frame()).toContain('Console web on alpha · 80×18 · live')
    expect(o.last().size).toEqual({ cols: 80, rows: 18 })
    await t.press('1', 'q', '\u0003', KEY.enter)
    expect(o.last().typed()).toBe('1q\u0003\r')
    expect(t.onQuit).not.toHaveBeenCalled()
    await t.press('\u001D')
    await until(t.frame, (f) => f.includes('My machines (5)'))
    expect(o.last().detached).toBe(true)
    await t.press('6')
    await until(t.frame, (f) => f.includes('live, ctrl+] detaches'))
    expect(o.links.map((l) => l.vmId)).toEqual([vms[0].id, vms[0].id])
    await t.press('\u001D')
    await until(t.frame, (f) => f.includes('My machines (5)'))
    await t.press('\u0003')
    expect(t.onQuit).toHaveBeenCalled()
  })

  it('read-only shows no action that changes the market, and fits 80x24', async () => {
    const t = start({ token: 'tok', readOnly: true })
    await until(t.frame, (f) => f.includes('Standard configurations'))
    await t.press('2')
    await until(t.frame, (f) => f.includes('My machines'))
    const f = t.frame()
    expect(f).toContain('[read-only]')
    expect(f).not.toContain('<x> stop')
    expect(f).not.toContain('<n> register')
    await t.press('x')
    expect(t.api.calls.find(([m]) => m === 'stop')).toBeUndefined()
    const lines = f.split('\n')
    expect(lines.length).toBeLessThanOrEqual(24)
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(80)
  })
})
