// `virtuoso tui`: connect (or take a connected client), render the App full screen, return when
// the user quits, with the terminal restored (alternate screen left, cursor shown, raw mode off).
import React from 'react'
import { render } from 'ink'
import type { MarketClient } from '../client/market-client.ts'
import { App, type Session, type ViewName } from './Dashboard.tsx'
import { noColorFromEnv } from './theme.ts'
import type { Identity } from '../market/types.ts'

export interface TuiOptions {
  /**
   * A connected client; otherwise one is made from market/bootstrap/profile (src/client/connect.ts) and
   * closed at the end.
   */
  client?: MarketClient
  /** Hide every action that changes the market. */
  readOnly?: boolean
  market?: string
  bootstrap?: string
  /** Already logged in as this identity (the demo): skips the whoami check. */
  identity?: Identity
  /** Save sessions to the profile (default: true when runTui made the connection). */
  saveSession?: boolean
  /** Default: NO_COLOR from the environment. */
  noColor?: boolean
  initialView?: ViewName
  /** A warning kept in the header (the demo on the in-memory hypervisor says so). */
  notice?: string
  /** Called once the dashboard is on screen, with a function that closes it (the demo's signal handlers). */
  onMounted?: (quit: () => void) => void
  stdin?: NodeJS.ReadStream
  stdout?: NodeJS.WriteStream
}

const ALT_SCREEN_ON = '\x1b[?1049h\x1b[H'
const ALT_SCREEN_OFF = '\x1b[?1049l'

export async function runTui(opts: TuiOptions = {}): Promise<void> {
  const stdout = opts.stdout ?? process.stdout
  let client = opts.client
  const owned = !client
  let market = opts.market ?? (client ? client.remoteKey : undefined)
  let bootstrap = opts.bootstrap
  if (!client) {
    const { connect, resolveTarget } = await import('../client/connect.ts')
    const target = await resolveTarget({ market: opts.market, bootstrap: opts.bootstrap })
    market = target.market
    bootstrap = target.bootstrap
    client = await connect({ market: opts.market, bootstrap: opts.bootstrap })
  }
  const save = opts.saveSession ?? owned
  const onSession = async (s: Session) => {
    if (!save || !market || !bootstrap) return
    const { readProfile, writeProfile } = await import('../client/profile.ts')
    const prev = (await readProfile()) ?? { market, bootstrap }
    await writeProfile({
      ...prev,
      market,
      bootstrap,
      user: s.user.username,
      type: s.user.type,
      token: s.token,
      expires: s.expires,
    })
  }
  const onLogout = async () => {
    if (!save) return
    const { clearSession } = await import('../client/profile.ts')
    await clearSession()
  }

  const alt = !!stdout.isTTY
  if (alt) stdout.write(ALT_SCREEN_ON)
  let quit: () => void = () => {}
  const closed = new Promise<void>((resolve) => {
    client!.onClose(() => resolve())
  })
  try {
    const instance = render(
      <App
        api={client}
        readOnly={opts.readOnly}
        noColor={opts.noColor ?? noColorFromEnv()}
        identity={opts.identity ?? null}
        market={market}
        onSession={onSession}
        onLogout={onLogout}
        onQuit={() => quit()}
        initialView={opts.initialView}
        notice={opts.notice}
      />,
      // Ctrl-C quits through the App (Frame's onInterrupt), so a live console can send it to the machine.
      { stdout, stdin: opts.stdin ?? process.stdin, exitOnCtrlC: false, patchConsole: true },
    )
    quit = () => instance.unmount()
    opts.onMounted?.(() => instance.unmount())
    // A hub that goes away ends the session: say so on the normal screen after leaving.
    let lost = false
    void closed.then(() => {
      lost = true
      instance.unmount()
    })
    await instance.waitUntilExit()
    instance.cleanup()
    if (lost) process.stderr.write('virtuoso tui: the connection to the market closed\n')
  } finally {
    if (alt) stdout.write(ALT_SCREEN_OFF)
    if (owned) await client.close().catch(() => {})
  }
}
