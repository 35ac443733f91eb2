// Newline-delimited text arriving in chunks (a child's stdout, QMP, the admin socket): a chunk may end
// in the middle of a line, so the tail waits for the next chunk.
export class LineReader {
  #buf = ''

  constructor(private onLine: (line: string) => void) {}

  /** Feeds a chunk; `onLine` runs for every line it completes, without its '\n'. */
  push(chunk: string): void {
    this.#buf += chunk
    let nl: number
    while ((nl = this.#buf.indexOf('\n')) >= 0) {
      const line = this.#buf.slice(0, nl)
      this.#buf = this.#buf.slice(nl + 1)
      this.onLine(line)
    }
  }

  /** What came after the last '\n' (an unterminated last line). */
  get rest(): string {
    return this.#buf
  }
}
