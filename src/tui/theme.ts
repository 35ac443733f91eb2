// Colors, off when NO_COLOR is set (https://no-color.org): every <Text color> goes through tone().
import { createContext, useContext } from 'react'

export type Tone = 'accent' | 'muted' | 'ok' | 'warn' | 'error' | 'title' | 'locked'

const COLORS: Record<Tone, string> = {
  accent: 'cyan',
  muted: 'gray',
  ok: 'green',
  warn: 'yellow',
  error: 'red',
  title: 'magenta',
  locked: 'gray',
}

export interface Theme {
  noColor: boolean
}

export const ThemeContext = createContext<Theme>({ noColor: false })

export function noColorFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.NO_COLOR !== undefined && env.NO_COLOR !== ''
}

/** Returns a function from tone to an ink color, or undefined when colors are off. */
export function useTone(): (t: Tone) => string | undefined {
  const { noColor } = useContext(ThemeContext)
  return (t) => (noColor ? undefined : COLORS[t])
}
