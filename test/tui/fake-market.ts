// A small in-memory stand-in for the market client, for the dashboard test and the screen captures
// only: it answers calls from the fixtures and pushes feed rows when told. Not a network layer.
import type { Change, Identity } from '../../src/market/types.ts'
import type { MarketApi } from '../../src/tui/hooks/use-market.ts'
import { configs, events, images, ledger, migrations, NOW, pms, results, vms, patVms } from './fixtures.ts'

let seq = 0
export const put = (table: string, key: string, value: unknown): Change => ({ seq: ++seq, table, key, value })

export function snapshot(who: Identity = { username: 'alice', type: 'buyer' }): Change[] {
  return [
    put('users', who.username, {
      username: who.username,
      email: 'a@example.org',
      type: who.type,
      balance: who.type === 'buyer' ? 4_900_000 : 97_600,
      created: NOW,
    }),
    ...configs.map((c) => put('config', c.name, c)),
    ...pms.map((p) => put('pm', p.id, p)),
    ...(who.type === 'buyer' ? vms : patVms).map((v) => put('vm', v.id, v)),
    ...ledger.map((e) => put('ledger', String(e.seq).padStart(10, '0'), e)),
    ...events.map((e) => put('events', String(e.seq).padStart(10, '0'), e)),
    ...migrations.map((m) => put('migrations', m.id, m)),
    ...images.map((i) => put('images', i.name, i)),
  ]
}

export class FakeMarket implements MarketApi {
  token = ''
  constructor(readonly who: Identity = { username: 'alice', type: 'buyer' }) {}
  calls: Array<[string, any]> = []
  push: (rows: Change[]) => void = () => {}
  async call(method: string, params: any = {}): Promise<any> {
    this.calls.push([method, params])
    if (method === 'login') {
      if (params.password !== 'password1')
        throw Object.assign(new Error('wrong user name or password'), { code: 'MARKET_BAD_CREDENTIALS' })
      return { token: 'tok', expires: NOW + 1e9, identity: { username: params.username, type: this.who.type } }
    }
    if (method === 'whoami') {
      if (this.token !== 'tok') throw new Error('not logged in')
      return this.who
    }
    if (method === 'log') return { events: [] }
    if (method === 'account') return { balance: 4_900_000 }
    if (method === 'search') return { results }
    if (method === 'destinations') return { destinations: results.map((r) => ({ ...r, methods: ['RSYNC', 'SCP'] })) }
    if (method === 'machines') return { pms: pms.map((p) => ({ ...p, online: p.id !== 'pm-charlie-03' })) }
    if (method === 'stop')
      throw Object.assign(new Error('web cannot stop: alpha did not answer within 10 s'), {
        code: 'MARKET_PROVIDER_TIMEOUT',
      })
    return {}
  }
  async subscribe(_since: number, onRows: (kind: 'snapshot' | 'changes', rows: Change[]) => void) {
    this.push = (rows) => onRows('changes', rows)
    setTimeout(() => onRows('snapshot', snapshot(this.who)), 5)
    return { seq }
  }
}
