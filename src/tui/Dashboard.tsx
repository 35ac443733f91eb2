// (Root component. Not App.tsx: beside app.tsx that name collides on case-insensitive file systems.)
// The root: log in or sign up, then the views (one resource each) switched by number keys, inside
// the Frame (hint bar, status line, confirmations). Data comes from useMarket only.
import React, { useCallback, useEffect, useMemo, useState } from 'react'
import { Box, Text } from 'ink'
import type { ConfigRow, Identity, VmRow } from '../market/types.ts'
import { Frame, errorMessage } from './Frame.tsx'
import { useMarket, type MarketApi, type MarketData } from './hooks/use-market.ts'
import { useNow } from './hooks/use-now.ts'
import { useSize } from './hooks/use-size.ts'
import type { KeyAction } from './keys.ts'
import { money, shortId } from './render/format.ts'
import { ThemeContext, useTone } from './theme.ts'
import { Login } from './views/Login.tsx'
import { Signup, type SignupValues } from './views/Signup.tsx'
import { Prices } from './views/Prices.tsx'
import { BuyerMachines } from './views/BuyerMachines.tsx'
import { ProviderMachines } from './views/ProviderMachines.tsx'
import { Account } from './views/Account.tsx'
import { Migrations } from './views/Migrations.tsx'
import { Console } from './views/Console.tsx'
import { Log } from './views/Log.tsx'
import { Images } from './views/Images.tsx'
import { SearchProviders } from './views/SearchProviders.tsx'
import { consoleOpener, type DialingApi, type OpenConsole } from './console-link.ts'

export type ViewName = 'market' | 'machines' | 'account' | 'migrations' | 'log' | 'console' | 'images'
export const VIEWS: Array<{ name: ViewName; key: string; title: string }> = [
  { name: 'market', key: '1', title: 'Market' },
  { name: 'machines', key: '2', title: 'Machines' },
  { name: 'account', key: '3', title: 'Account' },
  { name: 'migrations', key: '4', title: 'Migrations' },
  { name: 'log', key: '5', title: 'Log' },
  { name: 'console', key: '6', title: 'Console' },
  { name: 'images', key: '7', title: 'Images' },
]

/** A session as `login` answers it: the token, when it expires, and who it names (`identity`). */
export interface Session {
  token: string
  expires?: number
  user: Identity
}

export interface AppProps {
  api: MarketApi
  readOnly?: boolean
  noColor?: boolean
  /** Already logged in (a saved session that `whoami` accepted). */
  identity?: Identity | null
  /** The market key, shown in the header. */
  market?: string
  /** Called after a login or signup so the caller can save the session. */
  onSession?: (s: Session) => void | Promise<void>
  onLogout?: () => void | Promise<void>
  onQuit: () => void
  size?: { columns?: number; rows?: number }
  now?: number
  initialView?: ViewName
  /** A warning kept in the header (e.g. the demo running on the in-memory hypervisor). */
  notice?: string
  /** How the Console view reaches a machine (default: a ticket over `api`, then console@1 on its DHT node). */
  openConsole?: OpenConsole | null
}

export function sessionOf(res: any): Session {
  const user = res?.user ?? res?.identity
  if (!res?.token || !user?.username) throw new Error('the market answered the login without a session')
  return { token: res.token, expires: res.expires, user: { username: user.username, type: user.type } }
}

export function App(p: AppProps): React.JSX.Element {
  return (
    <ThemeContext.Provider value={{ noColor: !!p.noColor }}>
      <Root {...p} />
    </ThemeContext.Provider>
  )
}

function Root(p: AppProps): React.JSX.Element {
  const tone = useTone()
  const { columns: width, rows: height } = useSize(p.size)
  const [me, setMe] = useState<Identity | null>(p.identity ?? null)
  const [checking, setChecking] = useState(!p.identity && !!p.api.token)
  const [screen, setScreen] = useState<'login' | 'signup'>('login')
  const [view, setView] = useState<ViewName>(p.initialView ?? 'market')
  const [consoleVm, setConsoleVm] = useState<string | null>(null)
  const [selectedVm, setSelectedVm] = useState<string | null>(null)
  const openConsole = useMemo(
    () => (p.openConsole !== undefined ? p.openConsole : consoleOpener(p.api as DialingApi)),
    [p.api, p.openConsole],
  )
  const [registerConfig, setRegisterConfig] = useState<string | null>(null)
  const [registerImage, setRegisterImage] = useState<string | null>(null)
  const [configSearch, setConfigSearch] = useState<ConfigRow | null>(null)
  const [feedError, setFeedError] = useState<string | null>(null)
  const now = useNow(p.now)
  const market = useMarket(me ? p.api : null, me, { onError: (e) => setFeedError(e.message) })
  const d = market.data

  // A saved token: ask who it belongs to; an expired one just shows the login screen.
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
      setView('market')
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

  const go = (v: ViewName) => {
    setView(v)
    setConfigSearch(null)
    setRegisterConfig(null)
    setRegisterImage(null)
  }
  const global: KeyAction[] = me
    ? [
        // The tabs line names the view keys: the hint bar gives them one item.
        // View 6 opens the console of the machine selected in Machines.
        ...VIEWS.map((v) => ({
          key: v.key,
          description: v.title,
          run: () => {
            if (v.name === 'console' && selectedVm) setConsoleVm(selectedVm)
            go(v.name)
          },
          hidden: true,
        })),
        { key: `1-${VIEWS.length}`, description: 'views', run: () => {} },
        { key: 'L', description: 'logout', run: logout },
        { key: 'q', description: 'quit', run: p.onQuit },
      ]
    : []

  const header = (
    <Box flexDirection="column">
      <Text wrap="truncate">
        <Text color={tone('accent')} bold>
          Virtuoso
        </Text>
        {p.notice ? <Text color={tone('warn')}>{`  [${p.notice}]`}</Text> : null}
        {me ? (
          <Text>
            {`  ${me.username} (${me.type})  balance `}
            <Text bold>{d.balance === null ? '…' : money(d.balance)}</Text>
          </Text>
        ) : null}
        {p.market ? <Text color={tone('muted')}>{`  market ${shortId(p.market)}`}</Text> : null}
        {p.readOnly ? <Text color={tone('warn')}>{'  [read-only]'}</Text> : null}
        {me && !d.ready ? <Text color={tone('muted')}>{'  syncing…'}</Text> : null}
        {feedError ? <Text color={tone('error')}>{`  feed: ${feedError}`}</Text> : null}
      </Text>
      {me && (
        <Text wrap="truncate">
          {VIEWS.map((v) => (
            <Text
              key={v.name}
              inverse={v.name === view}
              color={v.name === view ? undefined : tone('muted')}
            >{` ${v.key} ${v.title} `}</Text>
          ))}
        </Text>
      )}
    </Box>
  )
  const bodyHeight = Math.max(6, height - (me ? 2 : 1) - 3)

  let body: React.ReactNode
  if (!me) {
    body = checking ? (
      <Text color={tone('muted')}>checking the saved session…</Text>
    ) : screen === 'login' ? (
      <Login width={width} market={p.market} onLogin={login} onSignup={() => setScreen('signup')} onQuit={p.onQuit} />
    ) : (
      <Signup width={width} onSignup={signup} onLogin={() => setScreen('login')} />
    )
  } else {
    body = (
      <ViewBody
        {...{
          p,
          d,
          view,
          width,
          height: bodyHeight,
          now,
          call: market.call,
          consoleVm,
          setConsoleVm,
          setSelectedVm,
          openConsole,
          go,
          registerConfig,
          setRegisterConfig,
          registerImage,
          setRegisterImage,
          configSearch,
          setConfigSearch,
        }}
      />
    )
  }

  return (
    <Frame
      width={width}
      readOnly={p.readOnly}
      globalActions={global}
      header={header}
      viewKey={me ? view : screen}
      hintRows={2}
      onInterrupt={p.onQuit}
    >
      <Box height={bodyHeight} flexDirection="column" overflow="hidden">
        {body}
      </Box>
    </Frame>
  )
}

interface BodyProps {
  p: AppProps
  d: MarketData
  view: ViewName
  width: number
  height: number
  now: number
  call: (method: string, params?: unknown) => Promise<any>
  consoleVm: string | null
  setConsoleVm: (id: string | null) => void
  setSelectedVm: (id: string | null) => void
  openConsole: OpenConsole | null
  go: (v: ViewName) => void
  registerConfig: string | null
  setRegisterConfig: (c: string | null) => void
  registerImage: string | null
  setRegisterImage: (name: string | null) => void
  configSearch: ConfigRow | null
  setConfigSearch: (c: ConfigRow | null) => void
}

function ViewBody(b: BodyProps): React.JSX.Element {
  const { d, width, height } = b
  const me = d.me!
  const myPms = d.pms.filter((x) => x.owner === me.username)
  switch (b.view) {
    case 'market':
      if (b.configSearch) {
        const c = b.configSearch
        return (
          <SearchProviders
            title={`Providers for configuration ${c.name}`}
            width={width}
            height={height}
            pickLabel="register + store"
            load={(sort) => b.call('search', { config: c.name, sort }).then((r) => r.results ?? [])}
            onPick={async (r) => {
              const vm: VmRow = await b.call('register', { config: c.name })
              await b.call('store', { vmId: vm.id, pmId: r.pmId })
              b.go('machines')
              return `${vm.name || vm.id}: registered and stored on ${r.name}`
            }}
            onClose={() => b.setConfigSearch(null)}
          />
        )
      }
      return (
        <Prices
          configs={d.configs}
          pms={d.pms}
          accountType={me.type}
          width={width}
          height={height}
          onRegister={(c) => {
            b.go('machines')
            b.setRegisterConfig(c.name)
          }}
          onSearch={(c) => b.setConfigSearch(c)}
        />
      )
    case 'machines':
      return me.type === 'buyer' ? (
        <BuyerMachines
          key={`${b.registerConfig ?? ''}/${b.registerImage ?? ''}`}
          vms={d.vms}
          pmById={d.pmById}
          configs={d.configs}
          images={d.images}
          nets={d.nets}
          width={width}
          height={height}
          call={b.call}
          loadTraffic={() => b.call('traffic')}
          registerConfig={b.registerConfig}
          registerImage={b.registerImage}
          onConsole={(v) => {
            b.setConsoleVm(v.id)
            b.go('console')
          }}
          onSelect={(v) => b.setSelectedVm(v?.id ?? null)}
          onWatchMigration={() => b.go('migrations')}
        />
      ) : (
        <ProviderMachines pms={myPms} vms={d.vms} online={d.online} width={width} height={height} call={b.call} />
      )
    case 'account':
      return (
        <Account
          me={me}
          balance={d.balance}
          vms={d.vms}
          pms={myPms}
          ledger={d.ledger}
          now={b.now}
          width={width}
          height={height}
        />
      )
    case 'migrations':
      return (
        <Migrations migrations={d.migrations} vms={d.vms} pmById={d.pmById} now={b.now} width={width} height={height} />
      )
    case 'log':
      return <Log events={d.events} now={b.now} width={width} height={height} />
    case 'images':
      return (
        <Images
          images={d.images}
          pms={d.pms}
          vms={d.vms}
          accountType={me.type}
          now={b.now}
          width={width}
          height={height}
          onRegister={(img) => {
            b.go('machines')
            b.setRegisterImage(img.name)
          }}
        />
      )
    case 'console': {
      const vm = d.vms.find((v) => v.id === b.consoleVm) ?? null
      return (
        <Console
          vm={vm}
          pm={vm?.pmId ? d.pmById.get(vm.pmId) : undefined}
          width={width}
          height={height}
          open={b.openConsole}
          onBack={() => b.go('machines')}
        />
      )
    }
  }
}

export { errorMessage }
