// The terminal's size, following resizes. 80×24 when unknown (pipes, tests).
import { useEffect, useState } from 'react'
import { useStdout } from 'ink'

export const DEFAULT_SIZE = { columns: 80, rows: 24 }

export function useSize(fixed?: { columns?: number; rows?: number }): { columns: number; rows: number } {
  const { stdout } = useStdout()
  const read = () => ({
    columns: fixed?.columns ?? (stdout?.columns || DEFAULT_SIZE.columns),
    rows: fixed?.rows ?? (stdout?.rows || DEFAULT_SIZE.rows),
  })
  const [size, setSize] = useState(read)
  useEffect(() => {
    if (!stdout || (fixed?.columns && fixed?.rows)) return
    const on = () => setSize(read())
    stdout.on('resize', on)
    return () => {
      stdout.off('resize', on)
    }
  }, [stdout])
  return fixed?.columns && fixed?.rows ? { columns: fixed.columns, rows: fixed.rows } : size
}
