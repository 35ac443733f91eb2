// Nonces of the console tickets a provider honoured, kept until their tickets expire, in memory and
// in a small append-only file (one `nonce expires` line each), so a ticket stays spent across a
// restart of the node. Loading drops expired lines and rewrites the file; appends that make the
// file much longer than what is live rewrite it again, so it stays as small as the live set.
import { appendFile, readFile, rename, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { privateDir } from '../secret-file.ts'

export class UsedNonces {
  private seen = new Map<string, number>()
  private lines = 0
  private writes: Promise<void> = Promise.resolve()

  constructor(private opts: { file?: string; clock?: () => number } = {}) {}

  get size(): number {
    return this.seen.size
  }

  private now(): number {
    return this.opts.clock?.() ?? Date.now()
  }

  async load(): Promise<void> {
    const file = this.opts.file
    if (!file) return
    await privateDir(dirname(file))
    const text = await readFile(file, 'utf8').catch((err) => {
      if (err.code === 'ENOENT') return ''
      throw err
    })
    const now = this.now()
    for (const line of text.split('\n')) {
      const [nonce, expires] = line.split(' ')
      const t = Number(expires)
      if (nonce && Number.isFinite(t) && t > now) this.seen.set(nonce, t)
    }
    await this.rewrite()
  }

  /** Null when the nonce was used; otherwise records it at once and starts writing it down. */
  use(nonce: string, expires: number): { written: Promise<void> } | null {
    this.prune()
    if (this.seen.has(nonce)) return null
    this.seen.set(nonce, expires)
    const file = this.opts.file
    if (!file) return { written: Promise.resolve() }
    this.lines++
    const written = this.writes.then(() =>
      this.lines > 2 * this.seen.size + 64
        ? this.rewrite()
        : appendFile(file, `${nonce} ${expires}\n`, { mode: 0o600 }),
    )
    this.writes = written.catch(() => {})
    return { written }
  }

  private prune(): void {
    const now = this.now()
    for (const [nonce, expires] of this.seen) if (expires <= now) this.seen.delete(nonce)
  }

  private async rewrite(): Promise<void> {
    const file = this.opts.file
    if (!file) return
    this.prune()
    const text = [...this.seen].map(([n, e]) => `${n} ${e}\n`).join('')
    await writeFile(`${file}.tmp`, text, { mode: 0o600 })
    await rename(`${file}.tmp`, file)
    this.lines = this.seen.size
  }
}
