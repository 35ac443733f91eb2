// Test helper: talk to a guest's serial console like a person at a terminal.
import type { Duplex } from 'node:stream'

export class ConsoleSession {
  out = ''
  #waiters = new Set<() => void>()
  constructor(readonly stream: Duplex) {
    stream.on('data', (b: Buffer) => {
      this.out += b.toString('utf8')
      for (const w of this.#waiters) w()
    })
    stream.on('error', () => {})
  }

  send(line: string): void {
    this.stream.write(line + '\n')
  }

  /** Wait until output after `from` matches `re`; returns the match. */
  waitFor(re: RegExp, timeoutMs = 20_000, from = 0): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const m = this.out.slice(from).match(re)
        if (m) {
          this.#waiters.delete(onData)
          clearTimeout(timer)
          resolve(m)
        }
        return !!m
      }
      const onData = (): void => void check()
      const timer = setTimeout(() => {
        this.#waiters.delete(onData)
        reject(
          new Error(`console: no ${re} within ${timeoutMs} ms; last output: ${JSON.stringify(this.out.slice(-300))}`),
        )
      }, timeoutMs)
      this.#waiters.add(onData)
      check()
    })
  }

  /** Run a command and return what it printed between two markers the shell itself produces. */
  async run(cmd: string, timeoutMs = 20_000): Promise<string> {
    const tag = Math.random().toString(36).slice(2, 8)
    const from = this.out.length
    // The quotes split each marker so the terminal's echo of the command line never matches it.
    this.send(`echo "<<${tag}""-a>>"; ${cmd}; echo "<<${tag}""-z>>"`)
    const m = await this.waitFor(new RegExp(`<<${tag}-a>>\\r?\\n([\\s\\S]*?)<<${tag}-z>>`), timeoutMs, from)
    return m[1].replace(/\r/g, '')
  }

  close(): void {
    this.stream.destroy()
  }
}
