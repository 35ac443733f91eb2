// Local state of the provider (report §6.2.2: vm list, origin, version) in LevelDB, one JSON record per
// machine. The caller may hand us a sublevel of its own database or a path; we close only what we open.
import { Level } from 'level'
import type { AbstractLevel } from 'abstract-level'
import type { HvVm } from './types.ts'

export type AnyLevel = AbstractLevel<any, any, any>

export interface VmRecord extends HvVm {
  createdAt: number
  updatedAt: number
}

export class StateStore {
  #db: AbstractLevel<any, string, string>
  #owned: AnyLevel | null

  private constructor(db: AbstractLevel<any, string, string>, owned: AnyLevel | null) {
    this.#db = db
    this.#owned = owned
  }

  static async open(db: string | AnyLevel): Promise<StateStore> {
    if (typeof db === 'string') {
      const level = new Level<string, string>(db, { valueEncoding: 'utf8' })
      await level.open()
      return new StateStore(level.sublevel<string, string>('vms', { valueEncoding: 'utf8' }), level)
    }
    if (db.status === 'opening') await db.open()
    return new StateStore(db.sublevel<string, string>('vms', { keyEncoding: 'utf8', valueEncoding: 'utf8' }), null)
  }

  async all(): Promise<VmRecord[]> {
    const out: VmRecord[] = []
    for await (const [, value] of this.#db.iterator()) out.push(JSON.parse(value) as VmRecord)
    return out
  }

  async put(rec: VmRecord): Promise<void> {
    await this.#db.put(rec.id, JSON.stringify(rec), { sync: true } as never)
  }

  async del(id: string): Promise<void> {
    await this.#db.del(id, { sync: true } as never)
  }

  async close(): Promise<void> {
    if (this.#owned) await this.#owned.close()
  }
}
