// Where a node keeps its data unless --data says otherwise: the XDG data directory
// ($XDG_DATA_HOME/virtuoso, by default ~/.local/share/virtuoso), as tools installed with npm -g do.
import { homedir } from 'node:os'
import { join } from 'node:path'

export function defaultDataDir(): string {
  return join(process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share'), 'virtuoso')
}

/** The demo's own directory, beside a node's data (a demo never mixes with a real node). */
export function defaultDemoDir(): string {
  return join(defaultDataDir(), 'demo')
}
