// Manifests computed when a machine comes to rest (stopped, suspended, stored), in the background, and
// kept per version (`.manifest-<version>.bin`): a later migration's OPEN finds them and hashes nothing;
// each entry is still checked when used (its file's size, mtime and inode must match). Hashing at
// OPEN cost the first trip of a suspended 3000 MB machine 150-190 ms of the copy phase here, and
// ~0.6 s after 1% of its blocks changed. One machine at a time, so a burst of suspends does not
// hash several disks at once beside running guests.
import { manifestFor } from './manifest.ts'

export class ManifestWarmer {
  private queue: Promise<void> = Promise.resolve()
  private pending = new Map<string, Promise<void>>()

  constructor(private log?: (line: string) => void) {}

  /** Hash `files` of `dir` for `version` after what is queued; a failure is logged and forgotten. */
  schedule(vmId: string, dir: string, files: () => Promise<string[]>, version: number): void {
    const run = this.queue.then(async () => {
      const t0 = performance.now()
      try {
        await manifestFor(dir, await files(), version)
        this.log?.(`vmmp: manifest of ${vmId} at version ${version} ready in ${Math.round(performance.now() - t0)} ms`)
      } catch (err) {
        // The machine may have started or left meanwhile: OPEN hashes what it needs then.
        this.log?.(`vmmp: no manifest of ${vmId} at version ${version} ahead of time: ${(err as Error).message}`)
      }
    })
    this.queue = run
    this.pending.set(vmId, run)
    void run.finally(() => {
      if (this.pending.get(vmId) === run) this.pending.delete(vmId)
    })
  }

  /** Wait for the machine's manifest being computed, if one is: OPEN then reads it instead of hashing too. */
  async ready(vmId: string): Promise<void> {
    await this.pending.get(vmId)
  }
}
