// Form state, pure: which field is next, how a key edits a value, what a form submits.
export interface Field {
  name: string
  label: string
  value?: string
  /** text (default), secret (shown as •), choice (←/→ cycles options), locked (shown, not editable). */
  kind?: 'text' | 'secret' | 'choice' | 'locked'
  options?: string[]
  hint?: string
}

export function editable(f: Field): boolean {
  return f.kind !== 'locked'
}

/** Next editable field in direction `dir`, wrapping; stays put when none. */
export function nextField(fields: Field[], i: number, dir: 1 | -1): number {
  for (let step = 1; step <= fields.length; step++) {
    const j = (i + dir * step + fields.length * step) % fields.length
    if (editable(fields[j])) return j
  }
  return i
}

export function firstField(fields: Field[]): number {
  const i = fields.findIndex(editable)
  return i < 0 ? 0 : i
}

/** The value after a key press in a text field (printable input appends, backspace deletes). */
export function editText(value: string, input: string, name: string): string {
  if (name === 'backspace') return value.slice(0, -1)
  if (name === 'ctrl+u') return ''
  if (!input || name.startsWith('ctrl+') || hasControl(input)) return value
  return value + input
}

export function cycleChoice(f: Field, value: string, dir: 1 | -1): string {
  const opts = f.options ?? []
  if (!opts.length) return value
  const i = opts.indexOf(value)
  return opts[((i < 0 ? 0 : i + dir) + opts.length) % opts.length]
}

export function initialValues(fields: Field[]): Record<string, string> {
  return Object.fromEntries(fields.map((f) => [f.name, f.value ?? (f.kind === 'choice' ? (f.options?.[0] ?? '') : '')]))
}

export function shown(f: Field, value: string): string {
  return f.kind === 'secret' ? '•'.repeat(value.length) : value
}

/** C0 controls and DEL: keys a text field must not take as characters. */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return true
  }
  return false
}
