// The Console view against an in-memory session (view tests only): the screen follows the guest's
// output, keys become terminal bytes, Ctrl-] detaches, and every way a session ends gets one line.
import React from 'react'
import { describe, expect, it, vi } from 'vitest'
import { render } from 'ink-testing-library'
import { Console } from '../../src/tui/views/Console.tsx'
import { Frame } from '../../src/tui/Frame.tsx'
import { ThemeContext } from '../../src/tui/theme.ts'
import type { KeyAction } from '../../src/tui/keys.ts'
import { KEY, tick, until } from './helpers.tsx'
import { fakeOpener } from './fake-console.ts'
import { pms, vms } from './fixtures.ts'

const started = vms[0] // web, started on alpha
const CTRL_BRACKET = '\x1d'

function mountConsole(
  props: Partial<React.ComponentProps<typeof Console>> & { open?: any } = {},
  global: KeyAction[] = [],
) {
  const onBack = vi.fn()
  const el = (p: typeof props) => (
    <ThemeContext.Provider value={{ noColor: true }}>
      <Frame width={p.width ?? 80} globalActions={global} onInterrupt={() => global.find((a) => a.key === 'q')?.run()}>
        <Console vm={started} pm={pms[0]} width={80} height={8} fps={200} onBack={onBack} {...p} />
      </Frame>
    </ThemeContext.Provider>
  )
  const inst = render(el(props))
  const frame = () => inst.lastFrame() ?? ''
  const press = async (...keys: string[]) => {
    for (const k of keys) {
      inst.stdin.write(k)
      await tick(k === KEY.esc ? 60 : 20)
    }
  }
  return { inst, frame, press, onBack, rerender: (p: typeof props) => inst.rerender(el({ ...props, ...p })) }
}

describe('Console view', () => {
  it('dials at once, sized to the view, and draws what the guest prints with the cursor', async () => {
    const o = fakeOpener({ repaint: 'VIRTUOSO-GUEST-READY\r\n/ # ' })
    const v = mountConsole({ open: o.open })
    await until(v.frame, (f) => f.includes('/ #'))
    expect(o.last().vmId).toBe(started.id)
    expect(o.last().size).toEqual({ cols: 80, rows: 7 })
    const f = v.frame()
    expect(f).toContain('Console web on alpha · 80×7 · live, ctrl+] detaches')
    expect(f).toContain('VIRTUOSO-GUEST-READY')
    expect(f).toContain('<ctrl+]> detach  ·  <ctrl+\\> picture  ·  other keys go to the machine')
    o.last().print('ls\r\nbin  etc\r\n/ # ')
    await until(v.frame, (f) => f.includes('bin  etc'))
  })

  it('sends typed keys as terminal bytes; view keys and Ctrl-C go to the machine too', async () => {
    const quit = vi.fn()
    const o = fakeOpener({ repaint: '/ # ' })
    const v = mountConsole({ open: o.open }, [
      { key: '1', description: 'market', run: quit },
      { key: 'q', description: 'quit', run: quit },
    ])
    await until(v.frame, (f) => f.includes('/ #'))
    await v.press('e', 'c', 'h', 'o', ' ', '1', 'q', KEY.enter, KEY.up, KEY.left, KEY.tab, '\x7f', '\x03', KEY.esc)
    expect(o.last().typed()).toBe('echo 1q\r\x1b[A\x1b[D\t\x7f\x03\x1b')
    expect(quit).not.toHaveBeenCalled()
  })

  it('Ctrl-] detaches and goes back; the machine keeps running', async () => {
    const o = fakeOpener({ repaint: '/ # ' })
    const v = mountConsole({ open: o.open })
    await until(v.frame, (f) => f.includes('/ #'))
    await v.press(CTRL_BRACKET)
    expect(o.last().detached).toBe(true)
    expect(v.onBack).toHaveBeenCalled()
    expect(o.last().typed()).toBe('')
  })

  it('follows the view size: the terminal and the session are resized', async () => {
    const o = fakeOpener({ repaint: '/ # ' })
    const v = mountConsole({ open: o.open })
    await until(v.frame, (f) => f.includes('/ #'))
    v.rerender({ width: 70, height: 10 })
    await until(v.frame, (f) => f.includes('70×9'))
    expect(o.last().resizes).toEqual([[70, 9]])
  })

  it('a takeover keeps the last screen and says so; r takes the console back', async () => {
    const o = fakeOpener({ repaint: '/ # last screen' })
    const v = mountConsole({ open: o.open })
    await until(v.frame, (f) => f.includes('last screen'))
    o.last().end({
      code: 'HV_CONSOLE_TAKEN_OVER',
      message: 'another viewer attached to this console; only one viewer at a time',
    })
    await until(v.frame, (f) => f.includes('another viewer took over this console'))
    expect(v.frame()).toContain('last screen')
    expect(v.frame()).toContain('<r> reconnect')
    await v.press('x') // not live: nothing goes to the machine
    expect(o.last().typed()).toBe('')
    await v.press('r')
    await until(v.frame, (f) => f.includes('live, ctrl+] detaches'))
    expect(o.links).toHaveLength(2)
  })

  it("a machine that stops closes the session with the provider's reason, and reconnects once started again", async () => {
    const o = fakeOpener({ repaint: '/ # ' })
    const v = mountConsole({ open: o.open })
    await until(v.frame, (f) => f.includes('live, ctrl+] detaches'))
    o.last().end({
      code: 'HV_CONSOLE_VM_STOPPED',
      message: `machine ${started.id} stopped; start it to view its console again`,
    })
    v.rerender({ vm: { ...started, state: 'stopped' } })
    await until(v.frame, (f) => f.includes(`machine ${started.id} stopped; start it to view its console again`))
    v.rerender({ vm: { ...started, state: 'started' } })
    await until(v.frame, (f) => f.includes('live, ctrl+] detaches'))
    expect(o.links).toHaveLength(2)
  })

  it('not started: says what to do and does not dial', async () => {
    const o = fakeOpener()
    const v = mountConsole({ open: o.open, vm: { ...started, state: 'suspended' } })
    await tick(40)
    expect(v.frame()).toContain('web is suspended: resume it (Machines, r) to view its console')
    expect(o.links).toHaveLength(0)
    await v.press(KEY.esc)
    expect(v.onBack).toHaveBeenCalled()
  })

  it('provider offline (the hub refuses the ticket), then r retries', async () => {
    const o = fakeOpener({
      failWith: { code: 'MARKET_PROVIDER_OFFLINE', message: 'provider machine pm-alpha-01 is offline' },
    })
    const v = mountConsole({ open: o.open })
    await until(v.frame, (f) => f.includes('provider alpha is offline'))
    o.state.failWith = undefined
    await v.press('r')
    await until(v.frame, (f) => f.includes('live, ctrl+] detaches'))
  })

  it('without a way to dial providers, says so', async () => {
    const v = mountConsole({ open: null })
    await until(v.frame, (f) => f.includes('this session cannot dial providers'))
  })

  it('no machine chosen', () => {
    const v = mountConsole({ vm: null })
    expect(v.frame()).toContain('No machine chosen')
  })
})
