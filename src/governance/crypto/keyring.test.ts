import { mkdtempSync, rmSync, statSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SqliteDataKeyStore } from '../../storage/sqlite/data-key-store.js'
import type { DataKeyStore, StoredDataKey } from './data-key-store.js'
import { Keyring, ROOT_REF } from './keyring.js'
import { LocalKeyFile, MASTER_KEY_ENV, masterKeyId } from './local-key-file.js'

/** A DataKeyStore that passes every call to a real one, except those given in `over`. */
class DelegatingStore implements DataKeyStore {
  constructor(readonly inner: DataKeyStore, readonly over: Partial<Pick<DataKeyStore, 'get' | 'insertIfAbsent'>>) {}
  migrate(): Promise<void> { return this.inner.migrate() }
  get(refs: readonly string[]): Promise<StoredDataKey[]> { return (this.over.get ?? ((r) => this.inner.get(r)))(refs) }
  insertIfAbsent(keys: readonly StoredDataKey[]): Promise<StoredDataKey[]> { return (this.over.insertIfAbsent ?? ((k) => this.inner.insertIfAbsent(k)))(keys) }
  delete(refs: readonly string[]): Promise<number> { return this.inner.delete(refs) }
  notWrappedBy(masterKeyId: string, afterRef: string, limit: number): Promise<StoredDataKey[]> { return this.inner.notWrappedBy(masterKeyId, afterRef, limit) }
  rewrap(...args: Parameters<DataKeyStore['rewrap']>): Promise<boolean> { return this.inner.rewrap(...args) }
  countByMasterKey(): Promise<Record<string, number>> { return this.inner.countByMasterKey() }
  countDataKeys(): Promise<number> { return this.inner.countDataKeys() }
  close(): Promise<void> { return Promise.resolve() }
}

describe('LocalKeyFile and Keyring', () => {
  let dir: string
  let store: SqliteDataKeyStore
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-keyring-'))
    store = new SqliteDataKeyStore(join(dir, 'keys.db'))
    await store.migrate()
  })
  afterEach(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const keyFile = (): string => join(dir, 'master.key')
  const open = async (now?: () => number, ttl = 60_000): Promise<Keyring> =>
    Keyring.open({ kms: LocalKeyFile.load({ keyFile: keyFile(), env: {}, create: true }), store, cacheTtlMs: ttl, ...(now ? { now } : {}) })

  it('creates master.key with mode 0600 on first use, and reuses it', async () => {
    const ring = await open()
    expect(statSync(keyFile()).mode & 0o777).toBe(0o600)
    const text = readFileSync(keyFile(), 'utf8')
    const again = await open()
    expect(readFileSync(keyFile(), 'utf8')).toBe(text)
    expect(again.pseudonym('user-1')).toBe(ring.pseudonym('user-1'))
  })

  it('gives each subject its own key, the same one on every call and in every process, under a pseudonym', async () => {
    const a = await open()
    const b = await open()
    const [ka, kb] = await a.keysFor(['ann', 'bob'])
    expect(ka!.key.equals(kb!.key)).toBe(false)
    expect(ka!.ref).toBe(a.pseudonym('ann'))
    expect(ka!.ref).not.toContain('ann')
    expect(ka!.ref).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const [again] = await b.keysFor(['ann'])
    expect(again!.key.equals(ka!.key)).toBe(true)
    expect((await b.keyByRef(ka!.ref, ka!.keyId))!.key.equals(ka!.key)).toBe(true)
  })

  it('shred deletes the key: the old key id is gone everywhere after the cache TTL, and a new key has another id', async () => {
    let now = 1_000
    const writer = await open(() => now, 10_000)
    const reader = await open(() => now, 10_000)
    const [k] = await writer.keysFor(['ann'])
    expect(await reader.keyByRef(k!.ref, k!.keyId)).not.toBeNull()
    expect(await writer.shred(['ann', 'never-seen'])).toBe(1)
    expect(await writer.keyByRef(k!.ref, k!.keyId)).toBeNull()
    // The reader's cache still holds it until the TTL runs out (documented: cacheTtlSeconds).
    expect(await reader.keyByRef(k!.ref, k!.keyId)).not.toBeNull()
    now += 10_001
    expect(await reader.keyByRef(k!.ref, k!.keyId)).toBeNull()
    const [fresh] = await writer.keysFor(['ann'])
    expect(fresh!.keyId).not.toBe(k!.keyId)
    expect(await reader.keyByRef(fresh!.ref, k!.keyId)).toBeNull()
    expect((await reader.keyByRef(fresh!.ref, fresh!.keyId))!.key.equals(fresh!.key)).toBe(true)
  })

  it('fails closed: a missing or different master key over existing keys is an error, never a new keyring', async () => {
    const ring = await open()
    await ring.keysFor(['ann'])
    rmSync(keyFile())
    expect(() => LocalKeyFile.load({ keyFile: keyFile(), env: {}, create: false })).toThrow(/master key file .* is missing.*restore the file from your backup/)
    const other = LocalKeyFile.load({ keyFile: keyFile(), env: {}, create: true })
    await expect(Keyring.open({ kms: other, store, cacheTtlMs: 0 })).rejects.toThrow(/cannot open the keyring.*wrapped by master key mk-[0-9a-f]{16}.*restore the right master key/)
  })

  it('fails closed when the keyring root is gone but data keys remain', async () => {
    const ring = await open()
    await ring.keysFor(['ann'])
    await store.delete([ROOT_REF])
    await expect(open()).rejects.toThrow(/holds data keys but no keyring root/)
  })

  it('refuses a key file that is not base64 of 32 bytes, saying how to make one', () => {
    writeFileSync(keyFile(), 'not a key\n')
    expect(() => LocalKeyFile.load({ keyFile: keyFile(), env: {}, create: true })).toThrow(/base64 of 32 random bytes.*openssl rand -base64 32/)
    expect(() => LocalKeyFile.load({ keyFile: keyFile(), env: { [MASTER_KEY_ENV]: Buffer.alloc(16).toString('base64') }, create: true })).toThrow(/TESSERA_MASTER_KEY must hold a master key/)
  })

  it('takes the master key from TESSERA_MASTER_KEY without touching any file', async () => {
    const key = randomBytes(32)
    const kms = LocalKeyFile.load({ keyFile: keyFile(), env: { [MASTER_KEY_ENV]: key.toString('base64') }, create: true })
    expect(kms.currentKeyId).toBe(masterKeyId(key))
    expect(kms.status()).toEqual({ kind: 'local-key-file', currentKeyId: masterKeyId(key), retiredKeyIds: [], source: 'env TESSERA_MASTER_KEY' })
    expect(() => statSync(keyFile())).toThrow()
    const wrapped = await kms.wrap(randomBytes(32), Buffer.from('aad'))
    await expect(kms.unwrap(wrapped, Buffer.from('other aad'))).rejects.toThrow(/does not authenticate/)
  })

  it('a wrapped key copied onto another subject row does not unwrap (the AAD binds ref and key id)', async () => {
    const ring = await open()
    const [a, b] = await ring.keysFor(['ann', 'bob'])
    const [rowA] = await store.get([a!.ref])
    await store.delete([b!.ref])
    await store.insertIfAbsent([{ ...rowA!, ref: b!.ref }])
    ring.clearCache()
    await expect(ring.keyByRef(b!.ref, rowA!.keyId)).rejects.toThrow(/does not authenticate/)
  })

  /** The real store, counting the calls that reach it (what the batched paths must save). */
  const counting = (inner: SqliteDataKeyStore): { store: DataKeyStore; calls: { get: number; insert: number; gotRefs: number } } => {
    const calls = { get: 0, insert: 0, gotRefs: 0 }
    const wrapped = new DelegatingStore(inner, {
      get: (refs) => { calls.get++; calls.gotRefs += refs.length; return inner.get(refs) },
      insertIfAbsent: (rows) => { calls.insert++; return inner.insertIfAbsent(rows) },
    })
    return { store: wrapped, calls }
  }

  it('resolves the keysFor calls of one event-loop turn together: one store read, one insert transaction, one key per subject', async () => {
    await open()
    const { store: s, calls } = counting(store)
    const ring = await Keyring.open({ kms: LocalKeyFile.load({ keyFile: keyFile(), env: {}, create: false }), store: s, cacheTtlMs: 60_000 })
    const [known] = await ring.keysFor(['known'])
    calls.get = calls.insert = 0
    const [a, b, c] = await Promise.all([ring.keysFor(['ann', 'known']), ring.keysFor(['bob', 'ann']), ring.keysFor(['cid'])])
    expect(calls).toMatchObject({ get: 1, insert: 1 })
    expect(a![0]!.key.equals(b![1]!.key)).toBe(true) // the same subject in two calls of the group
    expect(a![1]!.key.equals(known!.key)).toBe(true) // a cached one is not looked up
    expect(new Set([a![0]!.keyId, b![0]!.keyId, c![0]!.keyId]).size).toBe(3)
    // Every key is durable and the same for another process (a fresh keyring over the same file).
    const other = await open()
    for (const k of [a![0]!, b![0]!, c![0]!]) expect((await other.keyByRef(k.ref, k.keyId))!.key.equals(k.key)).toBe(true)
    // All cached now: no store call at all.
    await ring.keysFor(['ann', 'bob', 'cid', 'known'])
    expect(calls).toMatchObject({ get: 1, insert: 1 })
  })

  it('a key store failure rejects every call of the group and leaves nothing cached', async () => {
    await open()
    let fail = true
    const failing = new DelegatingStore(store, { insertIfAbsent: (rows) => fail ? Promise.reject(new Error('disk full')) : store.insertIfAbsent(rows) })
    const ring = await Keyring.open({ kms: LocalKeyFile.load({ keyFile: keyFile(), env: {}, create: false }), store: failing, cacheTtlMs: 60_000 })
    const results = await Promise.allSettled([ring.keysFor(['ann']), ring.keysFor(['bob'])])
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected'])
    expect(await store.get([ring.pseudonym('ann'), ring.pseudonym('bob')])).toEqual([])
    fail = false
    const [ann] = await ring.keysFor(['ann'])
    expect((await store.get([ann!.ref]))[0]!.keyId).toBe(ann!.keyId)
  })

  it('keysByRef resolves a batch mixing cached, uncached, re-created and shredded subjects with one store read', async () => {
    let now = 1_000
    const writer = await open(() => now, 10_000)
    const [ann, bob, cid, dan] = await writer.keysFor(['ann', 'bob', 'cid', 'dan'])
    const { store: s, calls } = counting(store)
    const reader = await Keyring.open({ kms: LocalKeyFile.load({ keyFile: keyFile(), env: {}, create: false }), store: s, cacheTtlMs: 10_000, now: () => now })
    expect(await reader.keyByRef(ann!.ref, ann!.keyId)).not.toBeNull() // ann is cached in the reader
    await writer.shred(['bob', 'cid'])
    const [cid2] = await writer.keysFor(['cid']) // cid got a new key after its shred
    calls.get = calls.gotRefs = 0
    const wanted = [ann!, bob!, cid!, cid2!, dan!, ann!, dan!].map((k) => ({ ref: k.ref, keyId: k.keyId }))
    const got = await reader.keysByRef(wanted)
    expect(calls).toMatchObject({ get: 1, gotRefs: 3 }) // bob, cid, dan: each distinct uncached ref once
    expect(got.map((k) => k?.keyId ?? null)).toEqual([ann!.keyId, null, null, cid2!.keyId, dan!.keyId, ann!.keyId, dan!.keyId])
    expect(got[4]!.key.equals(dan!.key)).toBe(true)
    // After the TTL the cached ann is read again, and a shred of ann made elsewhere applies.
    await writer.shred(['ann'])
    now += 10_001
    expect(await reader.keysByRef([{ ref: ann!.ref, keyId: ann!.keyId }])).toEqual([null])
  })

  it('holds at most maxCachedKeys unwrapped keys, the oldest going first', async () => {
    const reads: string[][] = []
    const counting = new DelegatingStore(store, { get: (refs) => { reads.push([...refs]); return store.get(refs) } })
    const ring = await Keyring.open({ kms: LocalKeyFile.load({ keyFile: keyFile(), env: {}, create: true }), store: counting, cacheTtlMs: 60_000, maxCachedKeys: 2 })
    const [a, b, c] = await ring.keysFor(['a', 'b', 'c'])
    reads.length = 0
    // b and c are cached; a went when c came.
    expect(await ring.keysByRef([b!, c!].map((k) => ({ ref: k.ref, keyId: k.keyId })))).toEqual([b, c])
    expect(reads).toEqual([])
    expect((await ring.keysByRef([{ ref: a!.ref, keyId: a!.keyId }]))[0]!.key.equals(a!.key)).toBe(true)
    expect(reads).toEqual([[a!.ref]])
  })
})
