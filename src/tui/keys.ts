// Key actions, k9s style: every view lists `{key, description, run, dangerous}`; the hint bar shows
// them, the frame dispatches them, dangerous ones ask first and `readOnly` hides them. Pure parts
// only here (tested); the dispatching lives in Frame.tsx.
import type { Key } from 'ink'

export interface KeyAction {
  /** A character ('s', 'D', '/') or a name: enter, esc, tab, up, down, left, right, pgup, pgdn, ctrl+x. */
  key: string
  description: string
  run: () => unknown
  /** Asks for confirmation first; hidden when read-only. */
  dangerous?: boolean
  /** Changes the market (register, start, …): hidden when read-only, but no confirmation. */
  mutates?: boolean
  /** The question asked before a dangerous action; default "<description>?". */
  confirm?: string
  /** Dispatched but not listed (navigation aliases). */
  hidden?: boolean
}

/** The name of a key press in the spelling KeyAction.key uses. */
export function keyName(input: string, key: Partial<Key>): string {
  if (key.upArrow) return 'up'
  if (key.downArrow) return 'down'
  if (key.leftArrow) return 'left'
  if (key.rightArrow) return 'right'
  if (key.pageUp) return 'pgup'
  if (key.pageDown) return 'pgdn'
  if (key.home) return 'home'
  if (key.end) return 'end'
  if (key.return) return 'enter'
  if (key.escape) return 'esc'
  if (key.tab) return key.shift ? 'shift+tab' : 'tab'
  if (key.backspace || key.delete) return 'backspace'
  if (key.ctrl && input) return `ctrl+${input.toLowerCase()}`
  return input
}

export function allowed(a: KeyAction, readOnly: boolean): boolean {
  return !(readOnly && (a.dangerous || a.mutates))
}

export function findAction(actions: KeyAction[], name: string, readOnly = false): KeyAction | undefined {
  return actions.find((a) => a.key === name && allowed(a, readOnly))
}

export function visibleActions(actions: KeyAction[], readOnly: boolean): KeyAction[] {
  return actions.filter((a) => !a.hidden && allowed(a, readOnly))
}

const LABELS: Record<string, string> = { enter: '⏎', esc: 'esc', tab: 'tab', up: '↑', down: '↓', left: '←', right: '→' }

export function hintItem(a: Pick<KeyAction, 'key' | 'description' | 'dangerous'>): string {
  return `<${LABELS[a.key] ?? a.key}> ${a.description}${a.dangerous ? '!' : ''}`
}

/** Hint items packed into lines of `width`, at most `maxLines` (the rest dropped with '…'). */
export function hintLines(
  actions: Array<Pick<KeyAction, 'key' | 'description' | 'dangerous'>>,
  width: number,
  maxLines = 2,
): string[] {
  const lines: string[] = []
  let line = ''
  for (const a of actions) {
    const item = hintItem(a)
    const next = line ? `${line}  ${item}` : item
    if (next.length <= width) {
      line = next
      continue
    }
    lines.push(line)
    line = item
    if (lines.length === maxLines) break
  }
  if (lines.length < maxLines && line) lines.push(line)
  else if (line && lines.length === maxLines)
    lines[maxLines - 1] = lines[maxLines - 1].slice(0, Math.max(0, width - 2)) + ' …'
  return lines
}

export function confirmQuestion(a: Pick<KeyAction, 'description' | 'confirm'>): string {
  return `${a.confirm ?? `${a.description}?`} [y/N]`
}

/** Signature of an action list: the hint bar re-renders only when it changes. */
export function actionsSignature(actions: KeyAction[]): string {
  return actions
    .map((a) => `${a.key}\u0000${a.description}\u0000${a.dangerous ? 1 : 0}${a.mutates ? 1 : 0}${a.hidden ? 1 : 0}`)
    .join('\u0001')
}
