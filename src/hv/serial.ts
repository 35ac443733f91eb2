// Operations on one machine run one at a time (a start must not race its own stop); machines do not
// wait for each other. A failed operation does not block the next one queued behind it.
export class SerialQueue {
  #tails = new Map<string, Promise<unknown>>()

  /** Run `fn` after every earlier call with the same key has settled. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve()
    const run = prev.then(fn, fn)
    const tail = run.catch(() => {})
    this.#tails.set(key, tail)
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    })
    return run
  }

  /** Settles when everything queued now has settled. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.#tails.values()])
  }
}
