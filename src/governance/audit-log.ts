/**
 * @module The audit log service: appends entries in batches (all entries recorded while a write is in
 * flight go into the next one, so a busy admin API costs one insert per batch, not per read), keeps the
 * Merkle tree of every leaf in memory for proofs, and signs a checkpoint every `checkpointEvery` entries or
 * `checkpointIntervalMs`, and on close. On open it checks the stored entries against the latest signed
 * checkpoint and refuses to extend a log that no longer matches it.
 */
import type { Clock } from '../core/clock.js'
import { TesseraError } from '../core/errors.js'
import { toRecord, type AuditEntryInput, type NewAuditRecord } from './audit-entry.js'
import type { AuditQuery, AuditStore, StoredAuditRecord } from './audit-store.js'

/** An entry to record at most once, under `key` (see {@link AuditStore.appendOnce}). */
export interface KeyedAuditEntry {
  readonly input: AuditEntryInput
  readonly key: string
}
import { openCheckpoint, type CheckpointSigner, type SignedCheckpoint } from './checkpoint.js'
import { MerkleTree } from './merkle.js'

export interface AuditLogOptions {
  readonly store: AuditStore
  readonly signer: CheckpointSigner
  readonly clock: Clock
  /** Sign a checkpoint once this many entries are not yet covered by one. */
  readonly checkpointEvery: number
  /** ... or once the oldest uncovered entry is this old (ms). */
  readonly checkpointIntervalMs: number
  /** Entries per insert at most. */
  readonly maxBatch?: number
  readonly onError?: (error: Error) => void
}

interface Pending {
  readonly record: NewAuditRecord
  readonly resolve: (seq: number) => void
  readonly reject: (error: Error) => void
}

export class AuditLog {
  readonly #o: AuditLogOptions
  readonly #tree: MerkleTree
  #latest: SignedCheckpoint | null
  #pending: Pending[] = []
  #chain: Promise<void> = Promise.resolve()
  #scheduled = false
  #timer: NodeJS.Timeout | undefined
  #closed = false

  private constructor(options: AuditLogOptions, tree: MerkleTree, latest: SignedCheckpoint | null) {
    this.#o = options
    this.#tree = tree
    this.#latest = latest
    this.#timer = setInterval(() => {
      if (this.#tree.size > (this.#latest?.size ?? 0)) this.checkpoint().catch((e: unknown) => this.#o.onError?.(e as Error))
    }, options.checkpointIntervalMs)
    this.#timer.unref()
  }

  /** Loads the tree from the store (migrated) and checks it against the latest signed checkpoint. */
  static async open(options: AuditLogOptions): Promise<AuditLog> {
    const { store, signer } = options
    // The checkpoint first, then the entries: other processes sharing the store append before they sign, so entries
    // read afterwards cover at least what the checkpoint does (read the other way round, a checkpoint signed in
    // between looked like a truncated log).
    const stored = await store.latestCheckpoint()
    const hashes = await store.leafHashes(0)
    const tree = MerkleTree.fromLeafHashes(hashes)
    let latest: SignedCheckpoint | null = null
    if (stored) {
      const opened = openCheckpoint(stored.note, signer.publicKey)
      const problem = !opened.ok ? opened.reason
        : opened.checkpoint.size > tree.size ? `the latest checkpoint covers ${opened.checkpoint.size} entries but the store holds ${tree.size} (truncated)`
          : !tree.root(opened.checkpoint.size).equals(opened.checkpoint.rootHash) ? 'the stored entries no longer hash to the signed root (edited, removed or reordered)'
            : undefined
      if (problem !== undefined) {
        throw new TesseraError('TESSERA_STORE', `audit log does not match its latest signed checkpoint: ${problem}. Refusing to append to it; run \`tessera audit verify\` and restore the audit store from a backup`)
      }
      latest = opened.ok ? opened.checkpoint : null
    }
    return new AuditLog(options, tree, latest)
  }

  get size(): number {
    return this.#tree.size
  }

  get publicKey(): string {
    return this.#o.signer.publicKey
  }

  get origin(): string {
    return this.#o.signer.origin
  }

  /** Appends an entry; resolves with its seq once it is stored. */
  record(input: AuditEntryInput): Promise<number> {
    if (this.#closed) return Promise.reject(new TesseraError('TESSERA_STORE', 'the audit log is closed'))
    let record: NewAuditRecord
    try {
      record = toRecord(input, this.#o.clock.now())
    } catch (error) {
      return Promise.reject(error as Error)
    }
    return new Promise<number>((resolve, reject) => {
      this.#pending.push({ record, resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        setImmediate(() => {
          this.#scheduled = false
          void this.#enqueue(() => this.#flushPending())
        })
      }
    })
  }

  /**
   * Records each entry unless one was recorded under its key before (by this process or any other sharing the
   * store): one compare-and-append, atomic, in order. Resolves with each entry's seq, or null for a key already
   * present. The identity audit relay's exactly-once step (src/identity/identity-audit-relay.ts).
   */
  recordOnce(entries: readonly KeyedAuditEntry[]): Promise<(number | null)[]> {
    if (this.#closed) return Promise.reject(new TesseraError('TESSERA_STORE', 'the audit log is closed'))
    let keyed: { record: NewAuditRecord; key: string }[]
    try {
      keyed = entries.map((e) => ({ record: toRecord(e.input, this.#o.clock.now()), key: e.key }))
    } catch (error) {
      return Promise.reject(error as Error)
    }
    return this.#enqueue(async () => {
      const seqs = await this.#o.store.appendOnce(keyed)
      await this.#catchUp()
      seqs.forEach((seq, i) => {
        if (seq !== null && !this.#tree.leafHash(seq).equals(keyed[i]!.record.leafHash)) throw new TesseraError('TESSERA_STORE', `audit entry ${seq} was not stored as written`)
      })
      if (this.#tree.size - (this.#latest?.size ?? 0) >= this.#o.checkpointEvery) await this.#sign()
      return seqs
    })
  }

  /** Runs `work` after everything queued before it (appends and checkpoints never interleave). */
  #enqueue<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(work)
    this.#chain = run.then(() => undefined, () => undefined)
    return run
  }

  async #flushPending(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.#o.maxBatch ?? 1000)
      try {
        const first = await this.#o.store.append(batch.map((p) => p.record))
        await this.#catchUp()
        batch.forEach((p, i) => {
          const seq = first + i
          if (!this.#tree.leafHash(seq).equals(p.record.leafHash)) throw new TesseraError('TESSERA_STORE', `audit entry ${seq} was not stored as written`)
          p.resolve(seq)
        })
      } catch (error) {
        for (const p of batch) p.reject(error as Error)
        this.#o.onError?.(error as Error)
        continue
      }
      if (this.#tree.size - (this.#latest?.size ?? 0) >= this.#o.checkpointEvery) await this.#sign()
    }
  }

  /** Adds the leaves other writers appended since this process last looked. */
  async #catchUp(): Promise<void> {
    for (const h of await this.#o.store.leafHashes(this.#tree.size)) this.#tree.append(h)
  }

  /** Waits until everything recorded so far is stored. */
  async flush(): Promise<void> {
    await this.#enqueue(() => this.#flushPending())
  }

  async #sign(): Promise<SignedCheckpoint> {
    await this.#catchUp()
    const size = this.#tree.size
    if (this.#latest && this.#latest.size === size) return this.#latest
    const time = Math.max(this.#o.clock.now(), this.#latest?.time ?? 0)
    const cp = this.#o.signer.sign({ size, rootHash: this.#tree.root(size), time })
    if (!(await this.#o.store.addCheckpoint({ size: cp.size, rootHash: cp.rootHash, time: cp.time, note: cp.note }))) {
      // Another process sharing the store signed a newer checkpoint meanwhile: this one stays valid (it is signed and
      // consistent with the log) but is not stored, so the stored ones never go back; catch up and sign past it.
      await this.#catchUp()
      const stored = await this.#o.store.latestCheckpoint()
      const newer = stored && openCheckpoint(stored.note, this.#o.signer.publicKey)
      if (newer?.ok && newer.checkpoint.size <= this.#tree.size && this.#tree.root(newer.checkpoint.size).equals(newer.checkpoint.rootHash)) {
        this.#latest = newer.checkpoint
        return newer.checkpoint.size >= cp.size ? newer.checkpoint : cp
      }
    }
    this.#latest = cp
    return cp
  }

  /** Stores pending entries and signs a checkpoint of the whole log, unless the latest one already covers it. */
  async checkpoint(): Promise<SignedCheckpoint> {
    await this.flush()
    return this.#enqueue(() => this.#sign())
  }

  /** The latest signed checkpoint (signing one first if entries are not covered yet). */
  latestCheckpoint(): Promise<SignedCheckpoint> {
    return this.checkpoint()
  }

  /** Inclusion proof of entry `index` in the tree of `size` entries (both within the signed log). */
  async inclusionProof(index: number, size: number): Promise<{ leafHash: Buffer; proof: Buffer[]; rootHash: Buffer }> {
    await this.flush()
    await this.#enqueue(() => this.#catchUp())
    this.#checkSize(size)
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) throw new TesseraError('TESSERA_VALIDATION', `.index: entry ${index} is not in a tree of ${size} entries (0 ≤ index < treeSize)`, { field: '.index' })
    return { leafHash: this.#tree.leafHash(index), proof: this.#tree.inclusionProof(index, size), rootHash: this.#tree.root(size) }
  }

  async consistencyProof(from: number, to: number): Promise<{ proof: Buffer[]; fromRoot: Buffer; toRoot: Buffer }> {
    await this.flush()
    await this.#enqueue(() => this.#catchUp())
    this.#checkSize(to)
    if (!Number.isSafeInteger(from) || from < 0 || from > to) throw new TesseraError('TESSERA_VALIDATION', `.from: tree size ${from} must be between 0 and to=${to}`, { field: '.from' })
    return { proof: this.#tree.consistencyProof(from, to), fromRoot: this.#tree.root(from), toRoot: this.#tree.root(to) }
  }

  #checkSize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.#tree.size) {
      throw new TesseraError('TESSERA_VALIDATION', `.treeSize: ${size} is not a size of this log (it has ${this.#tree.size} entries)`, { field: '.treeSize' })
    }
  }

  search(query: AuditQuery): Promise<StoredAuditRecord[]> {
    return this.#o.store.search(query)
  }

  /** Stores what is pending, signs a final checkpoint and stops the timer (the store stays open). */
  async close(): Promise<void> {
    if (this.#closed) return
    clearInterval(this.#timer)
    await this.checkpoint()
    this.#closed = true
  }
}
