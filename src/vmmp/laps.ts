// Named durations of one operation's steps, for the log line that says where a migration's time went
// (the hub's row keeps only the five phases; this is the detail behind them).
export class Laps {
  private last = performance.now()
  readonly ms: Record<string, number> = {}

  /** The time since the previous lap (or the start) is charged to `name`. */
  lap(name: string): void {
    const now = performance.now()
    this.ms[name] = (this.ms[name] ?? 0) + Math.round(now - this.last)
    this.last = now
  }

  toString(): string {
    return Object.entries(this.ms)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')
  }
}
