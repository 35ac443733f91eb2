// Who is logged in to the dashboard: a saved token is checked with `whoami` (an expired one just
// shows the login screen), and login, signup and logout change the session and tell the caller.
import { useCallback, useEffect, useState } from 'react'
import type { Identity } from '../../market/types.ts'
import type { SignupValues } from '../views/Signup.tsx'
import type { MarketApi } from './use-market.ts'

/** A session as `login` answers it: the token, when it expires, and who it names (`identity`). */
export interface Session {
  token: string
  expires?: number
  user: Identity
}

export function sessionOf(res: any): Session {
  const user = res?.user ?? res?.identity
  if (!res?.token || !user?.username) throw new Error('the market answered the login without a session')
  return { token: res.token, expires: res.expires, user: { username: user.username, type: user.type } }
}

export interface SessionOptions {
  api: MarketApi
  /** Already logged in (a saved session that `whoami` accepted). */
  identity?: Identity | null
  onSession?: (s: Session) => void | Promise<void>
  onLogout?: () => void | Promise<void>
}

export function useSession(p: SessionOptions, onBegin: () => void) {
  const [me, setMe] = useState<Identity | null>(p.identity ?? null)
  const [checking, setChecking] = useState(!p.identity && !!p.api.token)
  const [screen, setScreen] = useState<'login' | 'signup'>('login')

  useEffect(() => {
    if (me || !p.api.token) return
    p.api.call<Identity>('whoami').then(
      (r) => {
        setMe({ username: r.username, type: r.type })
        setChecking(false)
      },
      () => {
        p.api.token = ''
        setChecking(false)
      },
    )
  }, [])

  const begin = useCallback(
    async (res: unknown) => {
      const s = sessionOf(res)
      p.api.token = s.token
      await p.onSession?.(s)
      onBegin()
      setMe(s.user)
    },
    [p.api, p.onSession],
  )

  const login = (user: string, password: string) => p.api.call('login', { username: user, password }).then(begin)
  const signup = async (v: SignupValues) => {
    await p.api.call('signup', { username: v.user, type: v.type, email: v.email, password: v.password })
    await login(v.user, v.password)
  }
  const logout = async () => {
    await p.api.call('logout').catch(() => {})
    p.api.token = ''
    await p.onLogout?.()
    setMe(null)
    setScreen('login')
  }
  return { me, checking, screen, setScreen, login, signup, logout }
}
