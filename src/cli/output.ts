// How the CLI speaks: results as aligned tables or `--json`; failures as one line on stderr (or
// {"error": {code, message}} with --json) and a non-zero exit. Never a stack trace.
import { errorInfo } from '../errors.ts'

export interface Column<T> {
  header: string
  get: (row: T) => string | number | null | undefined
  align?: 'right'
}

export function table<T>(rows: T[], columns: Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => String(c.get(r) ?? '-')))
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i].length)))
  const line = (vals: string[]) =>
    vals
      .map((v, i) => (columns[i].align === 'right' ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n')
}

export function fail(err: unknown, json: boolean): never {
  const info = errorInfo(err)
  if (process.env.VIRTUOSO_DEBUG && err instanceof Error) console.error(err.stack)
  if (json) process.stdout.write(JSON.stringify({ error: info }) + '\n')
  else process.stderr.write(`virtuoso: ${info.message}${info.code === 'INTERNAL' ? '' : ` (${info.code})`}\n`)
  process.exit(info.code === 'CLI_USAGE' ? 2 : 1)
}

export function print(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write((json ? JSON.stringify(value) : human()) + '\n')
}
