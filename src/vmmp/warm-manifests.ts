// Manifests computed when a machine comes to rest (stopped, suspended, stored), in the background, and
// kept per version (`.manifest-<version>.bin`): a later migration's OPEN finds them and hashes nothing;
// each entry is still checked when used (its file's size, mtime and inode must match). Hashing at
// OPEN cost the first trip of a suspended 3000 MB machine 150-190 ms of the copy phase here, and
// ~0.6 s after 1% of its blocks changed. One machine at a time, so a burst of suspends does not
// hash several disks at once beside running guests.
// Before a machine's directory is removed or moved away, its jobs are cancelled (`cancel`): a job that
// kept running wrote its manifest into a directory being deleted (ENOTEMPTY in a CI run), and waiting
// for it instead would make a big disk's hash delay the delete.
import { manifestFor } from './manifest.ts'

interface Job {
  ac: AbortController
  /** Set when the job starts hashing; a job cancelled before it starts never runs. */
  body: Promise<void> | null
  queued: Promise<void>
}

export class ManifestWarmer {
  private queue: Promise<void> = Promise.resolve()
  private jobs = new Map<string, Set<Job>>()

  constructor(private log?: (line: string) => void) {}

  /** Hash `files` of `dir` for `version` after what is queued; a failure is logged and forgotten. */
  schedule(vmId: string, dir: string, files: () => Promise<string[]>, version: number): void {
    const job: Job = { ac: new AbortController(), body: null, queued: Promise.resolve() }
    job.queued = this.queue.then(() => {
      if (job.ac.signal.aborted) return
      job.body = this.hash(vmId, dir, files, version, job.ac.signal)
      return job.body
    })
    this.queue = job.queued
    const set = this.jobs.get(vmId) ?? new Set<Job>()
    this.jobs.set(vmId, set.add(job))
    void job.queued.finally(() => {
      set.delete(job)
      if (set.size === 0 && this.jobs.get(vmId) === set) this.jobs.delete(vmId)
    })
  }

  private async hash(vmId: string, dir: string, files: () => Promise<string[]>, version: number, signal: AbortSignal) {
    const t0 = performance.now()
    try {
      await manifestFor(dir, await files(), version, { signal })
      this.log?.(`vmmp: manifest of ${vmId} at version ${version} ready in ${Math.round(performance.now() - t0)} ms`)
    } catch (err) {
      // The machine may have started or left meanwhile: OPEN hashes what it needs then.
      const why = signal.aborted ? 'cancelled, the machine is being removed' : (err as Error).message
      this.log?.(`vmmp: no manifest of ${vmId} at version ${version} ahead of time: ${why}`)
    }
  }

  /** Wait for the machine's manifest being computed, if one is: OPEN then reads it instead of hashing too. */
  async ready(vmId: string): Promise<void> {
    await Promise.all([...(this.jobs.get(vmId) ?? [])].map((j) => j.queued))
  }

  /** Stop the machine's jobs and wait only for one already hashing to end (at its next 4 MiB read): after
   *  this, nothing of ours writes into its directory. A job still queued behind another machine is skipped. */
  async cancel(vmId: string): Promise<void> {
    const set = this.jobs.get(vmId)
    const jobs = [...(set ?? [])]
    for (const j of jobs) {
      j.ac.abort()
      set!.delete(j)
    }
    await Promise.all(jobs.map((j) => j.body))
  }

  /** True while a job of the machine is queued or running. */
  pending(vmId: string): boolean {
    return (this.jobs.get(vmId)?.size ?? 0) > 0
  }
}
