// The QMP wire layer against transcripts recorded from the real QEMU (fixtures/qmp/*.jsonl, made by
// fixtures/qmp/record.ts). A fake unix-socket server plays QEMU's side of a transcript byte for byte,
// checking that what the client sends is what the real session sent.
import { describe, it, expect, afterEach } from 'vitest'
import { createServer, type Server, type Socket } from 'node:net'
import { readFileSync } from 'node:fs'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { QmpClient } from '../../src/hv/qemu/qmp.ts'
import { Monitor } from '../../src/hv/qemu/monitor.ts'
import { LineReader } from '../../src/lines.ts'
import { expectCode } from './conformance.ts'

interface Entry {
  dir: '>' | '<'
  line: string
}
const FIXTURES = fileURLToPath(new URL('../../fixtures/qmp/', import.meta.url))
const load = (name: string): Entry[] =>
  readFileSync(join(FIXTURES, name), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Entry)

const cleanups: (() => void)[] = []
afterEach(() => {
  while (cleanups.length) cleanups.pop()!()
})

/** Serve one transcript. `chunk` > 0 sends QEMU's bytes in pieces that long (lines split anywhere). */
function replay(
  entries: Entry[],
  opts: { chunk?: number; stopAfter?: number } = {},
): { path: string; sent: string[]; mismatches: string[]; server: Server; peers: Socket[] } {
  const dir = mkdtempSync(join(tmpdir(), 'virtuoso-qmp-replay-'))
  const path = join(dir, 'qmp.sock')
  const sent: string[] = []
  const mismatches: string[] = []
  const peers: Socket[] = []
  const server = createServer((sock: Socket) => {
    peers.push(sock)
    let i = 0
    const write = (s: string): void => {
      if (!opts.chunk) return void sock.write(s)
      for (let k = 0; k < s.length; k += opts.chunk) sock.write(s.slice(k, k + opts.chunk))
    }
    const flush = (): void => {
      while (i < entries.length && entries[i].dir === '<') write(entries[i++].line + '\n')
    }
    sock.setEncoding('utf8')
    const lines = new LineReader((line) => {
      sent.push(line)
      if (opts.stopAfter !== undefined && sent.length > opts.stopAfter) return // swallow: QEMU "hangs"
      const want = entries[i]
      if (!want || want.dir !== '>' || want.line !== line) mismatches.push(`sent ${line}, transcript has ${want?.line}`)
      i++
      flush()
    })
    sock.on('data', (s: string) => lines.push(s))
    sock.on('error', () => {})
    flush()
  })
  server.listen(path)
  cleanups.push(() => {
    server.close()
    rmSync(dir, { recursive: true, force: true })
  })
  return { path, sent, mismatches, server, peers }
}

describe('QMP wire (replayed from real QEMU 7.2)', () => {
  for (const chunk of [0, 7]) {
    it(`greets, runs commands matched by id, emits events${chunk ? ' (bytes split mid-line)' : ''}`, async () => {
      const r = replay(load('status.jsonl'), { chunk })
      const qmp = await QmpClient.connect(r.path)
      cleanups.push(() => qmp.close())
      expect(qmp.greeting?.QMP.version.qemu).toEqual({ major: 7, minor: 2, micro: 22 })
      const events: string[] = []
      qmp.on('event', (e) => events.push(e.event))
      expect(await qmp.execute('query-status')).toMatchObject({ status: 'running', running: true })
      const stopped = qmp.waitEvent('STOP', 2000)
      await qmp.execute('stop')
      await stopped
      expect(await qmp.execute('query-status')).toMatchObject({ status: 'paused' })
      await qmp.execute('cont')
      const err = (await qmp.execute('no-such-command').catch((e: unknown) => e)) as Error & { code: string }
      expect(err.code).toBe('HV_QMP')
      expect(err.message).toContain('has not been found')
      expect(await qmp.execute('query-version')).toMatchObject({ qemu: { major: 7 } })
      expect(events).toEqual(['STOP', 'RESUME'])
      expect(r.mismatches).toEqual([])
    })
  }

  it('saves the machine state through the monitor: pause, migrate to a file, poll, quit', async () => {
    const r = replay(load('save-state.jsonl'))
    const mon = await Monitor.connect(r.path)
    cleanups.push(() => mon.close())
    const shutdown = mon.qmp.waitEvent('SHUTDOWN', 5000)
    const file = /exec:cat > '([^']+)'/.exec(
      load('save-state.jsonl').find((e) => e.line.includes('"migrate"'))!.line,
    )![1]
    const info = await mon.saveState(file, { timeoutMs: 5000 })
    expect(info.status).toBe('completed')
    expect(info.ram?.total).toBeGreaterThan(100 * 1048576)
    await mon.quit()
    await shutdown
    expect(r.mismatches).toEqual([])
  })

  it('sees the guest power off after an ACPI power-down', async () => {
    const r = replay(load('powerdown.jsonl'))
    const mon = await Monitor.connect(r.path)
    cleanups.push(() => mon.close())
    const down = mon.qmp.waitEvent('SHUTDOWN', 5000)
    const pressed = mon.qmp.waitEvent('POWERDOWN', 5000)
    await mon.powerdown()
    await pressed
    expect(await down).toEqual({ guest: true, reason: 'guest-shutdown' })
    expect(r.mismatches).toEqual([])
  })

  it('a command QEMU never answers is HV_TIMEOUT', async () => {
    const r = replay(load('status.jsonl'), { stopAfter: 1 })
    const qmp = await QmpClient.connect(r.path)
    cleanups.push(() => qmp.close())
    await expectCode(qmp.execute('query-status', undefined, { timeoutMs: 100 }), 'HV_TIMEOUT')
  })

  it('a monitor that never greets is HV_TIMEOUT; no socket at all is HV_QMP', async () => {
    const r = replay([])
    await expectCode(QmpClient.connect(r.path, { connectTimeoutMs: 150 }), 'HV_TIMEOUT')
    await expectCode(QmpClient.connect(join(tmpdir(), 'virtuoso-no-such-dir', 'qmp.sock')), 'HV_QMP')
  })

  it('QEMU exiting mid-command fails it with HV_QMP', async () => {
    const entries = load('status.jsonl')
    const r = replay(entries, { stopAfter: 1 })
    const qmp = await QmpClient.connect(r.path)
    const p = qmp.execute('query-status', undefined, { timeoutMs: 5000 })
    const closed = new Promise((res) => qmp.once('close', res))
    for (const peer of r.peers) peer.destroy()
    await closed
    await expectCode(p, 'HV_QMP')
    await expectCode(qmp.execute('query-status'), 'HV_QMP')
  })
})
