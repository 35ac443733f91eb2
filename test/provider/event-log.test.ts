// The provider's local event log on its own: what survives a restart, a crash mid-append, compaction.
import { describe, expect, it } from 'vitest'
import { appendFile, mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { COMPACT_BYTES, EventLog } from '../../src/provider/event-log.ts'

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'virtuoso-evlog-'))
  try {
    await fn(join(dir, 'events'))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

describe('provider event log', () => {
  it('keeps what the hub has not acknowledged across a restart, in order, in a private directory', () =>
    withDir(async (dir) => {
      const log = await EventLog.open(dir)
      for (const m of ['a', 'b', 'c']) await log.append({ type: 'note', message: m })
      await log.ack(1)
      // A crash in the middle of an append leaves a cut line: the events before it are whole.
      await appendFile(join(dir, 'events.jsonl'), '{"seq":4,"at":1,"ty')
      const again = await EventLog.open(dir)
      expect(again.epoch).toBe(log.epoch)
      expect(again.pending().map((e) => [e.seq, e.message])).toEqual([
        [2, 'b'],
        [3, 'c'],
      ])
      expect((await stat(dir)).mode & 0o777).toBe(0o700)
      expect((await stat(join(dir, 'events.jsonl'))).mode & 0o777).toBe(0o600)
      const next = await again.append({ type: 'note', message: 'd' })
      expect(next.seq).toBe(4)
    }))

  it('drops acknowledged events from the file once it is large, and numbers on', () =>
    withDir(async (dir) => {
      const log = await EventLog.open(dir)
      const big = 'x'.repeat(900)
      let last = 0
      while ((await stat(join(dir, 'events.jsonl')).catch(() => ({ size: 0 }))).size < COMPACT_BYTES)
        last = (await log.append({ type: 'note', message: big })).seq
      await log.append({ type: 'note', message: 'after' })
      await log.ack(last)
      const lines = (await readFile(join(dir, 'events.jsonl'), 'utf8')).trim().split('\n')
      expect(lines.map((l) => JSON.parse(l).message)).toEqual(['after'])
      const again = await EventLog.open(dir)
      expect(again.pending().map((e) => e.seq)).toEqual([last + 1])
      expect((await again.append({ type: 'note', message: 'n' })).seq).toBe(last + 2)
    }))
})
