// ConsoleScreen and ConsoleScreens over the test driver's fake terminal: a new viewer sees the
// current screen, one viewer at a time, stop/suspend/migrate close viewers with their reason.
import { afterEach, describe, expect, it } from 'vitest'
import xterm from '@xterm/headless'
import { ConsoleScreens } from '../../src/console/screens.ts'
import { renderScreen } from '../../src/console/render.ts'
import { RecordingViewer, testHv } from './helpers.ts'

let cleanup: (() => Promise<void>) | null = null
afterEach(async () => {
  await cleanup?.()
  cleanup = null
})

/** Feed bytes to a fresh xterm and return its visible lines: what a viewer's terminal would show. */
function replay(bytes: string, cols = 80, rows = 24): Promise<{ lines: string[]; x: number; y: number }> {
  const t = new xterm.Terminal({ cols, rows, allowProposedApi: true })
  return new Promise((resolve) =>
    t.write(bytes, () => {
      const b = t.buffer.active
      const lines: string[] = []
      for (let i = b.baseY; i < b.baseY + rows; i++) lines.push(b.getLine(i)!.translateToString(true))
      resolve({ lines, x: b.cursorX, y: b.cursorY })
      t.dispose()
    }),
  )
}

describe('renderScreen', () => {
  it('repaints text, colours and the cursor position into a blank terminal', async () => {
    const t = new xterm.Terminal({ cols: 40, rows: 5, scrollback: 100, allowProposedApi: true })
    await new Promise<void>((r) =>
      t.write('line one\r\n\x1b[1;31mred\x1b[0m and \x1b[38;5;200mmore\x1b[0m\r\n/ # ab', r),
    )
    const bytes = renderScreen(t)
    expect(bytes).toContain('\x1b[0;1;31mred')
    const seen = await replay(bytes, 40, 5)
    expect(seen.lines.slice(0, 3)).toEqual(['line one', 'red and more', '/ # ab'])
    expect([seen.x, seen.y]).toEqual([6, 2])
  })

  it('sends scrollback above the screen so the viewer can scroll back', async () => {
    const t = new xterm.Terminal({ cols: 20, rows: 3, scrollback: 100, allowProposedApi: true })
    await new Promise<void>((r) => t.write(Array.from({ length: 10 }, (_, i) => `row ${i}`).join('\r\n'), r))
    const viewer = new xterm.Terminal({ cols: 20, rows: 3, scrollback: 100, allowProposedApi: true })
    await new Promise<void>((r) => viewer.write(renderScreen(t, { history: 5 }), r))
    const b = viewer.buffer.active
    const all = Array.from({ length: b.length }, (_, i) => b.getLine(i)!.translateToString(true))
    expect(all.slice(-8)).toEqual(['row 2', 'row 3', 'row 4', 'row 5', 'row 6', 'row 7', 'row 8', 'row 9'])
  })
})

describe('ConsoleScreens', () => {
  it('a viewer who attaches sees the current screen at once, then live output', async () => {
    const env = await testHv()
    cleanup = env.cleanup
    const screens = new ConsoleScreens(env.hv)
    await env.hv.start('vm1')
    const screen = await screens.get('vm1')
    // Nobody watches while this runs; the screen still keeps it.
    const first = new RecordingViewer()
    const a = screen.attach(first)
    a.input('echo hello-before\r')
    await first.until((v) => v.out.includes('hello-before\r\n/ # '))
    a.detach()
    const late = new RecordingViewer()
    const b = screen.attach(late, { cols: 100, rows: 30 })
    await late.until((v) => v.out.includes('hello-before'))
    const seen = await replay(late.out, 100, 30)
    expect(seen.lines).toContain('VIRTUOSO-GUEST-READY')
    expect(seen.lines).toContain('hello-before')
    expect(seen.lines[seen.y]).toBe('/ # ')
    b.input('echo live\r')
    await late.until((v) => v.out.includes('live\r\n/ # '))
    screens.close()
  })

  it('a second viewer detaches the first, which is told why', async () => {
    const env = await testHv()
    cleanup = env.cleanup
    const screens = new ConsoleScreens(env.hv)
    await env.hv.start('vm1')
    const screen = await screens.get('vm1')
    const one = new RecordingViewer()
    const a = screen.attach(one)
    const two = new RecordingViewer()
    const b = screen.attach(two)
    expect(one.reason?.code).toBe('HV_CONSOLE_TAKEN_OVER')
    expect(a.attached).toBe(false)
    expect(b.attached).toBe(true)
    a.input('echo ignored\r') // a detached viewer's keys go nowhere
    b.input('echo two\r')
    await two.until((v) => v.out.includes('two\r\n'))
    expect(two.out).not.toContain('ignored')
    screens.close()
  })

  it('stop, suspend and migrate close the viewer with a clear reason; a resumed machine can be viewed again', async () => {
    const env = await testHv()
    cleanup = env.cleanup
    const screens = new ConsoleScreens(env.hv)
    await env.hv.start('vm1')
    let v = new RecordingViewer()
    ;(await screens.get('vm1')).attach(v)
    await env.hv.suspend('vm1')
    expect(v.reason?.code).toBe('HV_CONSOLE_VM_SUSPENDED')
    await env.hv.resume('vm1')
    v = new RecordingViewer()
    ;(await screens.get('vm1')).attach(v)
    await v.until((x) => x.out.length > 0)
    screens.migrate('vm1')
    expect(v.reason?.code).toBe('HV_CONSOLE_VM_MIGRATING')
    await env.hv.stop('vm1')
    await env.hv.start('vm1')
    v = new RecordingViewer()
    ;(await screens.get('vm1')).attach(v)
    await env.hv.stop('vm1')
    expect(v.reason?.code).toBe('HV_CONSOLE_VM_STOPPED')
    await expect(screens.get('vm1')).rejects.toMatchObject({ code: 'HV_BAD_STATE' })
    screens.close()
  })
})
