// How the hub's tables lie in LevelDB: one key prefix per table, exactly as abstract-level sublevels
// (`!table!key`), and log rows keyed by their sequence number zero-padded so keys sort as numbers.

/** Rows read per iterator step when loading: large steps keep the native round trips few. */
export const LOAD_STEP = 2000
const SEQ_WIDTH = 16
/** A large write buffer keeps a billing pass (tens of MB) from stalling on memtable flushes. */
export const WRITE_BUFFER = 64 * 1024 * 1024

export const prefix = (table: string) => `!${table}!`
// '"' sorts right after '!', so [`!t!`, `!t"`) is exactly the table's key range.
export const upper = (table: string) => `!${table}"`
export const seqKey = (seq: number) => String(seq).padStart(SEQ_WIDTH, '0')

/** Rows of one table as [key without the table prefix, raw JSON]. */
export type Rows = Array<[string, string]>
