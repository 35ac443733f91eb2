// useInput with the latest handler always: ink re-subscribes a changed handler in a passive effect,
// so a key typed right after a render could reach the previous render's closure (stale state).
// Here the handler lives in a ref updated on every render, and `active` is checked at key time.
import { useCallback, useRef } from 'react'
import { useInput, type Key } from 'ink'
import { keyName } from '../keys.ts'

export function useKeys(handler: (name: string, input: string, key: Key) => void, active = true): void {
  const ref = useRef({ handler, active })
  ref.current = { handler, active }
  const stable = useCallback((input: string, key: Key) => {
    if (ref.current.active) ref.current.handler(keyName(input, key), input, key)
  }, [])
  useInput(stable)
}
