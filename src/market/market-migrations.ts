// The Market's migration methods (report §7): buyers call migrate, destinations and migrations; the
// hub's migration agent (src/vmmp/agent.ts), which drives the providers, calls the rule functions.
import { MarketCore } from './market-core.ts'
import * as migrationsMod from './migrations.ts'
import { marketError, MARKET_PROVIDER_FAILED } from './errors.ts'
import type { Identity } from './types.ts'

/** Drives a migration on the providers (the hub's VMMP agent, src/vmmp/agent.ts). */
export interface Migrator {
  start(who: Identity | null, input: migrationsMod.MigrateInput): Promise<migrationsMod.MigrationRow>
  /** Where the machine may go, each destination with the methods it answered to QUERY. */
  destinations(who: Identity | null, vmId: string): Promise<unknown[]>
}

export class MarketMigrations extends MarketCore {
  /** Set by the hub; without one, `migrate` answers that migration is unavailable. */
  migrator: Migrator | null = null

  migrate(who: Identity | null, input: migrationsMod.MigrateInput): Promise<migrationsMod.MigrationRow> {
    return this.agent().start(who, input)
  }
  destinations(who: Identity | null, vmId: string): Promise<unknown[]> {
    return this.agent().destinations(who, vmId)
  }
  private agent(): Migrator {
    if (this.migrator) return this.migrator
    throw marketError(MARKET_PROVIDER_FAILED, 'this hub runs no migration agent; ask the operator')
  }
  migrations(who: Identity | null): migrationsMod.MigrationRow[] {
    return migrationsMod.listMigrations(this.ctx, who)
  }
  /** The rules of a migration, and the machine's last one settled (MARKET_BUSY if not). */
  checkMigration(
    who: Identity | null,
    input: migrationsMod.MigrateInput,
  ): ReturnType<typeof migrationsMod.checkMigration> {
    return migrationsMod.checkMigrationStart(this.ctx, who, input)
  }
  beginMigration(
    who: Identity | null,
    input: migrationsMod.MigrateInput & { method: string },
  ): Promise<migrationsMod.MigrationRow> {
    return migrationsMod.beginMigration(this.ctx, who, input)
  }
  migrationProgress(id: string, patch: migrationsMod.ProgressPatch): Promise<void> {
    return migrationsMod.progress(this.ctx, id, patch)
  }
  commitMigration(
    id: string,
    newVersion: number,
    phases?: migrationsMod.MigrationPhases,
  ): Promise<migrationsMod.MigrationRow> {
    return migrationsMod.commitMigration(this.ctx, id, newVersion, phases)
  }
  revertMigration(id: string, reason: { code: string; message: string }): Promise<migrationsMod.MigrationRow> {
    return migrationsMod.revertMigration(this.ctx, id, reason)
  }
  migrationSettled(
    id: string,
    patch: { originReleased?: boolean; destCleaned?: boolean; phases?: migrationsMod.MigrationPhases },
  ): Promise<void> {
    return migrationsMod.markSettled(this.ctx, id, patch)
  }
  getMigration(id: string): migrationsMod.MigrationRow {
    return migrationsMod.getMigration(this.ctx, id)
  }
  openMigrations(): migrationsMod.MigrationRow[] {
    return migrationsMod.openMigrations(this.ctx)
  }
  unsettledMigrations(): migrationsMod.MigrationRow[] {
    return migrationsMod.unsettledMigrations(this.ctx)
  }
}
