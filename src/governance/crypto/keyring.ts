/**
 * @module The Keyring: one data key per subject (a person's record key in the event log: an anonymousId, a userId,
 * a profile id), created on first use, wrapped by the master key (KeyManagementService) and stored in a
 * DataKeyStore under the subject's HMAC pseudonym, so neither the key store nor the log shows a clear subject.
 * Unwrapped keys are cached for `cacheTtlMs`; `shred` deletes a subject's key, after which everything sealed
 * under it is unreadable (crypto-shredding).
 *
 * Key hierarchy: master key (KMS) → wraps the keyring root (32 random bytes, row `~root`) and every data key. The
 * pseudonym key is HKDF(root, "tessera/subject-pseudonym/v1"): it survives master key rotations (the root is only
 * re-wrapped), so a subject keeps its pseudonym and its partition forever. The identifier key is HKDF(root,
 * "tessera/identifier-pseudonym/v1"): the state stores (identity graph, consent ledger) keep identifier values as
 * HMACs under it (src/identity/identifier-codec.ts), a key apart so a log subject's pseudonym and an identifier's
 * never coincide.
 *
 * Opening fails closed: if the store holds keys, the master key that wrapped the root must be there; a missing
 * or wrong key is an error at start, never a silent new keyring.
 */
import { createHmac, hkdfSync, randomBytes } from 'node:crypto'
import { ConfigError, TesseraError } from '../../core/errors.js'
import type { DataKeyStore, StoredDataKey } from './data-key-store.js'
import type { KeyManagementService } from './key-management.js'

export const ROOT_REF = '~root'
const MAX_CACHED = 100_000

/** A subject's data key, unwrapped. */
export interface DataKey {
  /** The subject's pseudonym (the row's ref). */
  readonly ref: string
  /** 16 hex digits; sealed records name it, so a key created after a shred is told apart from the shredded one. */
  readonly keyId: string
  readonly key: Buffer
}

export interface KeyringOptions {
  readonly kms: KeyManagementService
  readonly store: DataKeyStore
  /** How long an unwrapped key is reused without asking the store (a shred elsewhere takes up to this to apply here). */
  readonly cacheTtlMs: number
  /**
   * How many unwrapped keys the cache holds (default 100,000; the oldest goes first). Real-time matching opens the
   * records of a batch's candidates under their profiles' keys, so a working set larger than this costs a store read
   * and an unwrap per candidate missed (bench/scenarios/match-realtime-ab.ts `--key-cache` measures it).
   */
  readonly maxCachedKeys?: number
  readonly now?: () => number
}

/**
 * HMAC-SHA256 of `text` under `key`, base64url, its first `chars` characters (43: all of it), remembered in `memo`
 * (bounded: the oldest entry goes when it holds MAX_CACHED).
 */
function memoisedHmac(memo: Map<string, string>, key: Buffer, text: string, chars: number): string {
  let out = memo.get(text)
  if (out === undefined) {
    out = createHmac('sha256', key).update(text, 'utf8').digest('base64url').slice(0, chars)
    if (memo.size >= MAX_CACHED) memo.delete(memo.keys().next().value!)
    memo.set(text, out)
  }
  return out
}

function wrapAad(ref: string, keyId: string): Buffer {
  return Buffer.from(`tessera/data-key/v1\u0000${ref}\u0000${keyId}`, 'utf8')
}

interface Cached { readonly key: DataKey; readonly expires: number }

/** Refs whose keys are resolved together on the next turn of the event loop (see `keysFor`). */
interface PendingGroup { readonly refs: Set<string>; readonly done: Promise<Map<string, DataKey>> }

export class Keyring {
  readonly #kms: KeyManagementService
  readonly #store: DataKeyStore
  readonly #ttl: number
  readonly #maxCached: number
  readonly #now: () => number
  readonly #pseudonymKey: Buffer
  readonly #cache = new Map<string, Cached>()
  /** subject → pseudonym, so a busy subject's HMAC is computed once (memory only, bounded like the key cache). */
  readonly #pseudonyms = new Map<string, string>()
  readonly #identifierKey: Buffer
  /** `type\0value` → identifier pseudonym (memory only, bounded like the key cache). */
  readonly #identifierPseudonyms = new Map<string, string>()
  #pending: PendingGroup | undefined

  /** Opens the keyring over a migrated store; creates the root on first use of an empty store. */
  static async open(options: KeyringOptions): Promise<Keyring> {
    const { store, kms } = options
    let [root] = await store.get([ROOT_REF])
    if (root === undefined) {
      if (await store.countDataKeys() > 0) {
        throw new ConfigError('the key store holds data keys but no keyring root: it was damaged or partly restored; restore keys.db (or tessera_data_keys) from a backup', 'governance.encryption')
      }
      const keyId = randomBytes(8).toString('hex')
      const secret = randomBytes(32)
      const wrapped = await kms.wrap(secret, wrapAad(ROOT_REF, keyId))
      ;[root] = await store.insertIfAbsent([{ ref: ROOT_REF, keyId, masterKeyId: wrapped.masterKeyId, wrapped: wrapped.wrapped, createdAt: (options.now ?? Date.now)() }])
    }
    let secret: Buffer
    try {
      secret = await kms.unwrap({ masterKeyId: root!.masterKeyId, wrapped: root!.wrapped }, wrapAad(ROOT_REF, root!.keyId))
    } catch (cause) {
      throw new ConfigError(`cannot open the keyring: ${(cause as Error).message}`, 'governance.encryption')
    }
    const derive = (label: string): Buffer => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), label, 32))
    return new Keyring(options, derive('tessera/subject-pseudonym/v1'), derive('tessera/identifier-pseudonym/v1'))
  }

  private constructor(options: KeyringOptions, pseudonymKey: Buffer, identifierKey: Buffer) {
    this.#kms = options.kms
    this.#store = options.store
    this.#ttl = options.cacheTtlMs
    this.#maxCached = options.maxCachedKeys ?? MAX_CACHED
    this.#now = options.now ?? Date.now
    this.#pseudonymKey = pseudonymKey
    this.#identifierKey = identifierKey
  }

  /**
   * The pseudonym of an identifier value of a type: HMAC-SHA256 of `type NUL value` under the identifier key, cut to
   * its first 132 bits, base64url (22 characters). 132 bits keep collisions out of reach (about 2^-66 for 10^9
   * values, birthday bound) and halve the key the graph stores and indexes in every table (the full 43 characters
   * cost a quarter more bytes written per event in bench:pipeline).
   * Memoised, so a returning visitor's identifiers cost a map lookup.
   */
  identifierPseudonym(type: string, value: string): string {
    return memoisedHmac(this.#identifierPseudonyms, this.#identifierKey, `${type}\u0000${value}`, 22)
  }

  /**
   * A fingerprint of the identifier key (16 hex digits of an HMAC of a fixed text): a state store records it, so
   * opening it with another keyring (a lost keys.db replaced by a fresh one) fails instead of missing every lookup.
   */
  identifierKeyFingerprint(): string {
    return createHmac('sha256', this.#identifierKey).update('tessera/identifier-key-fingerprint/v1', 'utf8').digest('hex').slice(0, 16)
  }

  /** The subject's pseudonym: HMAC-SHA256 under the keyring's pseudonym key, base64url (43 characters). */
  pseudonym(subject: string): string {
    return memoisedHmac(this.#pseudonyms, this.#pseudonymKey, subject, 43)
  }

  /**
   * The data keys of these subjects (by pseudonym, in input order), created where missing.
   *
   * Keys not in the cache are resolved in groups: every call made in one turn of the event loop (all the ingest
   * requests that arrived together) waits for one `setImmediate`, then the group does one store read and one
   * insert transaction for all its new subjects, instead of one of each per call. The insert has committed
   * (durably, on the SQLite store) before any caller gets a key, so nothing is sealed under a key that a crash
   * could lose. A key this keyring just created is used as generated, not unwrapped again.
   */
  async keysFor(subjects: readonly string[]): Promise<DataKey[]> {
    const now = this.#now()
    const out: (DataKey | undefined)[] = new Array(subjects.length)
    let group: PendingGroup | undefined
    for (let i = 0; i < subjects.length; i++) {
      const ref = this.pseudonym(subjects[i]!)
      const c = this.#cache.get(ref)
      if (c !== undefined && c.expires > now) {
        out[i] = c.key
      } else {
        group ??= this.#pendingGroup()
        group.refs.add(ref)
      }
    }
    if (group === undefined) return out as DataKey[]
    const resolved = await group.done
    for (let i = 0; i < subjects.length; i++) {
      if (out[i] !== undefined) continue
      const key = resolved.get(this.pseudonym(subjects[i]!))
      if (key === undefined) throw new TesseraError('TESSERA_STORE', 'a data key was deleted while it was being created; retry')
      out[i] = key
    }
    return out as DataKey[]
  }

  /** The group that the next `setImmediate` resolves (created and scheduled on first use). */
  #pendingGroup(): PendingGroup {
    if (this.#pending !== undefined) return this.#pending
    let resolve!: (keys: Map<string, DataKey>) => void
    let reject!: (error: unknown) => void
    const done = new Promise<Map<string, DataKey>>((res, rej) => {
      resolve = res
      reject = rej
    })
    const group: PendingGroup = { refs: new Set(), done }
    this.#pending = group
    setImmediate(() => {
      this.#pending = undefined
      this.#resolveGroup([...group.refs]).then(resolve, reject)
    })
    return group
  }

  /** One store read, one insert transaction for the refs without a key, then each key unwrapped once (or kept as created). */
  async #resolveGroup(refs: readonly string[]): Promise<Map<string, DataKey>> {
    const now = this.#now()
    const found = await this.#store.get(refs)
    const have = new Set(found.map((f) => f.ref))
    const created: StoredDataKey[] = []
    const secrets = new Map<string, Buffer>()
    const fresh = refs.filter((ref) => !have.has(ref))
    // One CSPRNG call for the whole group (one per key id and key cost ~10 µs each under load); each byte used once.
    const random = randomBytes(40 * fresh.length)
    for (let i = 0; i < fresh.length; i++) {
      const ref = fresh[i]!
      const keyId = random.toString('hex', 40 * i, 40 * i + 8)
      const secret = Buffer.from(random.subarray(40 * i + 8, 40 * i + 40))
      const wrapped = await this.#kms.wrap(secret, wrapAad(ref, keyId))
      secrets.set(`${ref}\u0000${keyId}`, secret)
      created.push({ ref, keyId, masterKeyId: wrapped.masterKeyId, wrapped: wrapped.wrapped, createdAt: now })
    }
    const stored = [...found, ...(await this.#store.insertIfAbsent(created))]
    const keys = await Promise.all(stored.map((row) => this.#remember(row, now, secrets.get(`${row.ref}\u0000${row.keyId}`))))
    return new Map(keys.map((k) => [k.ref, k]))
  }

  /**
   * The data key `keyId` of the subject `ref`, or null when it no longer exists (shredded). A cached key with
   * another id (the subject was shredded and got a new key) is refreshed from the store.
   */
  async keyByRef(ref: string, keyId: string): Promise<DataKey | null> {
    const [key] = await this.keysByRef([{ ref, keyId }])
    return key!
  }

  /**
   * {@link keyByRef} for many records at once (a consumed batch), in input order: one store read for all the refs
   * whose key is not cached (or cached under another key id), each distinct row unwrapped once.
   */
  async keysByRef(wanted: readonly { readonly ref: string; readonly keyId: string }[]): Promise<(DataKey | null)[]> {
    const now = this.#now()
    const out: (DataKey | null | undefined)[] = new Array(wanted.length)
    const missing = new Set<string>()
    for (let i = 0; i < wanted.length; i++) {
      const { ref, keyId } = wanted[i]!
      const cached = this.#cache.get(ref)
      if (cached !== undefined && cached.expires > now && cached.key.keyId === keyId) out[i] = cached.key
      else missing.add(ref)
    }
    if (missing.size === 0) return out as DataKey[]
    const rows = await this.#store.get([...missing])
    const keys = new Map((await Promise.all(rows.map((row) => this.#remember(row, now)))).map((k) => [k.ref, k]))
    for (const ref of missing) if (!keys.has(ref)) this.#cache.delete(ref)
    for (let i = 0; i < wanted.length; i++) {
      if (out[i] !== undefined) continue
      const key = keys.get(wanted[i]!.ref)
      out[i] = key !== undefined && key.keyId === wanted[i]!.keyId ? key : null
    }
    return out as (DataKey | null)[]
  }

  /** Deletes the data keys of these subjects (and forgets them here); returns how many existed. */
  async shred(subjects: readonly string[]): Promise<number> {
    const refs = [...new Set(subjects.map((s) => this.pseudonym(s)))]
    for (const r of refs) this.#cache.delete(r)
    return this.#store.delete(refs)
  }

  /** Forgets every cached key (tests; an operator's reload). */
  clearCache(): void {
    this.#cache.clear()
  }

  /** Caches a stored row's key: `secret` when this keyring created the row (no unwrap), else unwrapped by the KMS. */
  async #remember(row: StoredDataKey, now: number, secret?: Buffer): Promise<DataKey> {
    const key: DataKey = { ref: row.ref, keyId: row.keyId, key: secret ?? await this.#kms.unwrap({ masterKeyId: row.masterKeyId, wrapped: row.wrapped }, wrapAad(row.ref, row.keyId)) }
    if (this.#cache.size >= this.#maxCached) this.#cache.delete(this.#cache.keys().next().value!)
    this.#cache.delete(row.ref)
    this.#cache.set(row.ref, { key, expires: now + this.#ttl })
    return key
  }
}

export { wrapAad as dataKeyWrapAad }
