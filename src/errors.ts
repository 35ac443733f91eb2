// One error class for every layer: a string `code` (MARKET_*, NODE_*, VMMP_*, HV_*) that tests and
// clients match on, a message a person can act on, and the underlying `cause` when there is one.
export class VirtuosoError extends Error {
  readonly code: string

  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.name = 'VirtuosoError'
  }

  toJSON(): { code: string; message: string } {
    return { code: this.code, message: this.message }
  }
}

/** The wire and CLI form of any thrown value: known errors keep their code, anything else is INTERNAL. */
export function errorInfo(err: unknown): { code: string; message: string } {
  if (err instanceof VirtuosoError) return err.toJSON()
  if (
    err &&
    typeof err === 'object' &&
    'code' in err &&
    'message' in err &&
    typeof (err as any).code === 'string' &&
    /^[A-Z]+_[A-Z_]+$/.test((err as any).code)
  ) {
    return { code: (err as any).code, message: String((err as any).message) }
  }
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) }
}
