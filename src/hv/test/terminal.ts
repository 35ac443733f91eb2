// A fake serial terminal for the `test` driver: echoes keystrokes like a tty, prints the guest's ready
// marker and a prompt, and runs a toy shell (echo, echo > file, cat, sync, poweroff) over an in-memory
// file map, so console code above can be exercised in milliseconds.
import { Duplex } from 'node:stream'

export const READY_MARKER = 'VIRTUOSO-GUEST-READY'
export const PROMPT = '/ # '

export interface FakeGuest {
  files: Map<string, string>
  poweroff(): void
}

export class FakeTerminal extends Duplex {
  #line = ''
  #guest: FakeGuest

  constructor(guest: FakeGuest, opts: { banner?: boolean } = {}) {
    super()
    this.#guest = guest
    if (opts.banner) this.push(`${READY_MARKER}\r\n`)
    if (opts.banner) this.push(PROMPT)
  }

  override _read(): void {}

  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    for (const ch of chunk.toString('utf8')) {
      if (ch === '\r' || ch === '\n') {
        this.push('\r\n')
        const line = this.#line
        this.#line = ''
        const out = this.#run(line.trim())
        if (out) this.push(out.replace(/\n/g, '\r\n'))
        this.push(PROMPT)
      } else if (ch === '\x7f' || ch === '\b') {
        if (this.#line.length) {
          this.#line = this.#line.slice(0, -1)
          this.push('\b \b')
        }
      } else if (ch === '\x03') {
        this.#line = ''
        this.push('^C\r\n' + PROMPT)
      } else {
        this.#line += ch
        this.push(ch)
      }
    }
    cb()
  }

  /** One command line; `;` separates commands. Returns what the shell prints. */
  #run(line: string): string {
    let out = ''
    for (const cmd of line
      .split(';')
      .map((c) => c.trim())
      .filter(Boolean))
      out += this.#one(cmd)
    return out
  }

  #one(cmd: string): string {
    const gt = unquotedIndex(cmd, '>')
    if (cmd.startsWith('echo ') && gt > 0) {
      const append = cmd[gt + 1] === '>'
      const file = cmd.slice(gt + (append ? 2 : 1)).trim()
      const prev = append ? (this.#guest.files.get(file) ?? '') : ''
      this.#guest.files.set(file, prev + unquote(cmd.slice(5, gt)) + '\n')
      return ''
    }
    if (cmd === 'echo') return '\n'
    if (cmd.startsWith('echo ')) return unquote(cmd.slice(5)) + '\n'
    if (cmd.startsWith('cat ')) {
      const file = cmd.slice(4).trim()
      const body = this.#guest.files.get(file)
      return body ?? `cat: can't open '${file}': No such file or directory\n`
    }
    if (cmd === 'sync' || cmd === 'true') return ''
    if (cmd === 'poweroff') {
      queueMicrotask(() => this.#guest.poweroff())
      return ''
    }
    return `sh: ${cmd.split(/\s+/)[0]}: not found\n`
  }
}

/** Quote removal as a shell does it for plain words: "a""b" and 'a'b both give ab. */
function unquote(s: string): string {
  return s.trim().replace(/"([^"]*)"|'([^']*)'/g, (_m, d: string | undefined, q: string | undefined) => d ?? q ?? '')
}

function unquotedIndex(s: string, ch: string): number {
  let quote = ''
  for (let i = 0; i < s.length; i++) {
    if (quote) {
      if (s[i] === quote) quote = ''
    } else if (s[i] === '"' || s[i] === "'") quote = s[i]
    else if (s[i] === ch) return i
  }
  return -1
}
