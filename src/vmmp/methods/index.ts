// The registry of migration methods: QUERY answers from it, REQ picks from it. Adding a method is
// registering one object; the agent and the migration server never name methods themselves.
import { vmmpError } from '../errors.ts'
import type { MigrationMethod } from './types.ts'
import { rsyncMethod } from './rsync.ts'
import { scpMethod } from './scp.ts'

export type { MigrationMethod, MigrationSource, PullOptions, PullResult, ServeContext } from './types.ts'

export class MethodRegistry {
  private methods = new Map<string, MigrationMethod>()

  constructor(methods: MigrationMethod[] = []) {
    for (const m of methods) this.register(m)
  }

  register(m: MigrationMethod): this {
    if (!/^[A-Z][A-Z0-9_]{0,31}$/.test(m.name))
      throw vmmpError.bad(`method name '${m.name}' is not a VMMP method token`)
    this.methods.set(m.name, m)
    return this
  }

  unregister(name: string): boolean {
    return this.methods.delete(name)
  }

  /** The names a QUERY is answered with, in preference order (registration order). */
  names(): string[] {
    return [...this.methods.keys()]
  }

  has(name: string): boolean {
    return this.methods.has(name)
  }

  get(name: string): MigrationMethod {
    const m = this.methods.get(name)
    if (!m) throw vmmpError.unknownMethod(name, this.names())
    return m
  }
}

/** RSYNC first: it is never worse than SCP and far better when the destination caches an old copy. */
export function defaultMethods(): MethodRegistry {
  return new MethodRegistry([rsyncMethod, scpMethod])
}
