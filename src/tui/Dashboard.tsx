// (Root component. Not App.tsx: beside app.tsx that name collides on case-insensitive file systems.)
// The root: log in or sign up, then the views (one resource each) switched by number keys, inside
// the Frame (hint bar, status line, confirmations). Data comes from useMarket only.
import React, { useMemo, useState } from 'react'
import { Box, Text } from 'ink'
import type { ConfigRow, Identity, VmRow } from '../market/types.ts'
import { Frame, errorMessage } from './Frame.tsx'
import { useMarket, type MarketApi, type MarketData } from './hooks/use-market.ts'
import { useNow } from './hooks/use-now.ts'
import { useSize } from './hooks/use-size.ts'
import type { KeyAction } from './keys.ts'
import { ThemeContext, useTone } from './theme.ts'
import { Login } from './views/Login.tsx'
import { Signup } from './views/Signup.tsx'
import { Header } from './Header.tsx'
import { VIEWS, type ViewName } from './view-names.ts'
import { useSession, type Session } from './hooks/use-session.ts'
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

export { VIEWS, type ViewName } from './view-names.ts'

export type { Session } from './hooks/use-session.ts'

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
  const [view, setView] = useState<ViewName>(p.initialView ?? 'market')
  const { me, checking, screen, setScreen, login, signup, logout } = useSession(p, () => setView('market'))
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
    <Header
      notice={p.notice}
      me={me}
      balance={d.balance}
      market={p.market}
      readOnly={p.readOnly}
      syncing={!!me && !d.ready}
      feedError={feedError}
      view={view}
    />
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
