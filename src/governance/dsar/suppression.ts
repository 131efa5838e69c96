/**
 * @module The suppression list of erased people: keyed hashes (HMAC-SHA256 with a key of this deployment) of
 * their normalised identifiers (`email:ann@example.com`), so the list itself holds no identifier in clear, and a
 * copy of it without the key cannot be checked against guesses. The pipeline's `suppress` stage drops every
 * event carrying a suppressed identifier before identity resolution, so neither a new event nor a replay of the
 * event log brings an erased person back.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { TesseraConfig } from '../../config/config.js'
import { ConfigError } from '../../core/errors.js'
import type { PrivacyStore } from '../privacy-store.js'

export function suppressionKeyPath(config: TesseraConfig): string {
  return config.governance.dsar.suppressionKeyFile ?? join(config.dataDir, 'suppression.key')
}

/** Reads the 32-byte key (hex), creating it (mode 0600) when absent. */
export function loadOrCreateSuppressionKey(path: string): Buffer {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true })
    try {
      writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error // another process created it first
    }
    chmodSync(path, 0o600)
  }
  const text = readFileSync(path, 'utf8').trim()
  if (!/^[0-9a-f]{64}$/.test(text)) throw new ConfigError(`the suppression key ${path} must hold 64 hex digits (32 bytes); restore it from a backup (without it, erased people are no longer suppressed)`, 'governance.dsar.suppressionKeyFile')
  return Buffer.from(text, 'hex')
}

/**
 * Hashes remembered by default. The pipeline checks every identifier of every event, and the same people come back
 * again and again: an HMAC costs ~4 µs, a map hit well under 1 µs. ~200 bytes per entry, so ~40 MB when full.
 */
export const DEFAULT_HASH_MEMO_ENTRIES = 200_000

export interface SuppressionListOptions {
  /** Identifier hashes kept in memory (least recently used dropped first); 0 hashes every time. */
  readonly memoEntries?: number
}

export class SuppressionList {
  readonly #store: Pick<PrivacyStore, 'suppressed' | 'addSuppressions' | 'hasSuppressions'>
  readonly #key: Buffer
  readonly #memoEntries: number
  /** identifier key → HMAC, in least-recently-used order (a Map iterates in insertion order). */
  readonly #memo = new Map<string, string>()
  /** Set once the list was seen holding a hash; the list never shrinks, so it is not asked again. */
  #seenNonEmpty = false

  constructor(store: Pick<PrivacyStore, 'suppressed' | 'addSuppressions' | 'hasSuppressions'>, key: Buffer, options: SuppressionListOptions = {}) {
    this.#store = store
    this.#key = key
    this.#memoEntries = options.memoEntries ?? DEFAULT_HASH_MEMO_ENTRIES
  }

  hash(identifierKey: string): string {
    const known = this.#memo.get(identifierKey)
    if (known !== undefined) {
      this.#memo.delete(identifierKey)
      this.#memo.set(identifierKey, known)
      return known
    }
    const hash = createHmac('sha256', this.#key).update(identifierKey, 'utf8').digest('hex')
    if (this.#memoEntries > 0) {
      if (this.#memo.size >= this.#memoEntries) this.#memo.delete(this.#memo.keys().next().value!)
      this.#memo.set(identifierKey, hash)
    }
    return hash
  }

  /**
   * True while nobody has been erased (the usual case): callers skip extracting and hashing identifiers. Asks the
   * store on every call until the list holds a hash (an erasure in another process or thread shows up on the next
   * call), then never again, since suppressions are never removed.
   */
  async isEmpty(): Promise<boolean> {
    if (this.#seenNonEmpty) return false
    this.#seenNonEmpty = await this.#store.hasSuppressions()
    return !this.#seenNonEmpty
  }

  /** The identifier keys (of those given) that are suppressed. */
  async suppressedAmong(identifierKeys: readonly string[]): Promise<Set<string>> {
    if (identifierKeys.length === 0) return new Set()
    const byHash = new Map(identifierKeys.map((k) => [this.hash(k), k]))
    const hit = await this.#store.suppressed([...byHash.keys()])
    return new Set([...hit].map((h) => byHash.get(h)!))
  }

  async add(identifierKeys: readonly string[], requestId: string, time: number): Promise<void> {
    await this.#store.addSuppressions(identifierKeys.map((k) => this.hash(k)), requestId, time)
  }
}
