import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { runEventLogContract } from '../event-log.contract.js'
import type { AppendRecord, AppendResult, EventLog } from '../event-log.js'
import { openEmbeddedEventLog } from '../embedded/embedded-event-log.js'
import { MemoryEventLog } from '../memory/memory-event-log.js'
import { partitionFor } from '../../core/hash.js'
import { SealedEventLog } from './sealed-event-log.js'
import { SEALED_PREFIX, sealedKeyId } from './record-seal.js'
import { tempKeyring, type TempKeyring } from './sealed-log.fixture.js'

runEventLogContract('sealed memory', async () => {
  const keys = await tempKeyring()
  const log = new SealedEventLog(new MemoryEventLog(), { keyring: keys.keyring, seal: true })
  return { log, cleanup: async () => { await log.close(); await keys.cleanup() } }
})

runEventLogContract('sealed embedded', async () => {
  const keys = await tempKeyring()
  const log = new SealedEventLog(await openEmbeddedEventLog({ path: join(keys.dir, 'log.db'), sync: 'normal', maxPendingBytes: 16 * 1024 * 1024 }), { keyring: keys.keyring, seal: true })
  return { log, cleanup: async () => { await log.close(); await keys.cleanup() } }
})

describe('SealedEventLog', () => {
  let keys: TempKeyring
  let dir: string
  let inner: EventLog
  beforeEach(async () => {
    keys = await tempKeyring(0)
    dir = mkdtempSync(join(tmpdir(), 'tessera-sealed-'))
    inner = await openEmbeddedEventLog({ path: join(dir, 'raw.db'), sync: 'normal', maxPendingBytes: 16 * 1024 * 1024 })
    await inner.ensureTopic('events.raw', 4)
  })
  afterEach(async () => {
    await inner.close().catch(() => undefined)
    await keys.cleanup()
    rmSync(dir, { recursive: true, force: true })
  })

  const event = (who: string, canary: string): string => JSON.stringify({ type: 'identify', messageId: `m-${canary}`, anonymousId: who, traits: { email: `${canary}@example.com` } })

  it('stores neither the subject nor the value in the clear, keeps partitions, and reads the clear record back', async () => {
    const sealed = new SealedEventLog(inner, { keyring: keys.keyring, seal: true })
    const { positions } = await sealed.append('events.raw', [{ key: 'anon-canary-1', value: event('anon-canary-1', 'canaryvalue1') }, { key: null, value: event('', 'canaryvalue2') }])
    expect(positions[0]!.partition).toBe(partitionFor('anon-canary-1', 4, 0))
    const raw = await inner.read('events.raw', positions[0]!.partition, positions[0]!.offset, 1)
    expect(raw[0]!.key).toBe(keys.keyring.pseudonym('anon-canary-1'))
    expect(raw[0]!.value.startsWith(SEALED_PREFIX)).toBe(true)
    const [clear] = await sealed.read('events.raw', positions[0]!.partition, positions[0]!.offset, 1)
    expect(clear).toMatchObject({ key: 'anon-canary-1', value: event('anon-canary-1', 'canaryvalue1') })
    const [unkeyed] = await sealed.read('events.raw', positions[1]!.partition, positions[1]!.offset, 1)
    expect(unkeyed).toMatchObject({ key: null, value: event('', 'canaryvalue2') })
    await sealed.close()
    for (const f of readdirSync(dir)) {
      const bytes = readFileSync(join(dir, f))
      expect(bytes.includes('canaryvalue1')).toBe(false)
      expect(bytes.includes('anon-canary-1')).toBe(false)
    }
  })

  it('marks records of a shredded subject (empty value, pseudonym key) and keeps serving the others', async () => {
    const sealed = new SealedEventLog(inner, { keyring: keys.keyring, seal: true })
    const { positions } = await sealed.append('events.raw', [{ key: 'ann', value: event('ann', 'a') }, { key: 'bob', value: event('bob', 'b') }])
    expect(await keys.keyring.shred(['ann'])).toBe(1)
    const other = new SealedEventLog(inner, { keyring: await keys.reopen(0), seal: true })
    const [ann] = await other.read('events.raw', positions[0]!.partition, positions[0]!.offset, 1)
    expect(ann).toEqual({ topic: 'events.raw', partition: positions[0]!.partition, offset: positions[0]!.offset, key: keys.keyring.pseudonym('ann'), value: '', timestamp: ann!.timestamp, shredded: true })
    const [bob] = await other.read('events.raw', positions[1]!.partition, positions[1]!.offset, 1)
    expect(bob).toMatchObject({ key: 'bob', value: event('bob', 'b') })
    expect(bob).not.toHaveProperty('shredded')
    // A new event of the same subject gets a new key; the old record stays shredded.
    const again = await sealed.append('events.raw', [{ key: 'ann', value: event('ann', 'new') }])
    expect((await other.read('events.raw', again.positions[0]!.partition, again.positions[0]!.offset, 1))[0]!.value).toBe(event('ann', 'new'))
    expect((await other.read('events.raw', positions[0]!.partition, positions[0]!.offset, 1))[0]!.shredded).toBe(true)
  })

  it('reads plain records written before encryption, and sealed ones after encryption is turned off', async () => {
    const plain = await inner.append('events.raw', [{ key: 'ann', value: event('ann', 'before') }])
    const on = new SealedEventLog(inner, { keyring: keys.keyring, seal: true })
    const sealedPos = (await on.append('events.raw', [{ key: 'ann', value: event('ann', 'during') }])).positions[0]!
    expect(sealedPos.partition).toBe(plain.positions[0]!.partition)
    const off = new SealedEventLog(inner, { keyring: keys.keyring, seal: false })
    const after = (await off.append('events.raw', [{ key: 'ann', value: event('ann', 'after') }])).positions[0]!
    const values = (await off.read('events.raw', sealedPos.partition, 0, 10)).map((r) => r.value)
    expect(values).toEqual([event('ann', 'before'), event('ann', 'during'), event('ann', 'after')])
    expect((await inner.read('events.raw', after.partition, after.offset, 1))[0]!.value).toBe(event('ann', 'after'))
    const none = new SealedEventLog(inner, { keyring: null, seal: false })
    await expect(none.read('events.raw', sealedPos.partition, 0, 10)).rejects.toThrow(/holds sealed records but this Tessera has no keyring/)
  })

  it('a consumer gets clear records and shredded markers, in offset order', async () => {
    const sealed = new SealedEventLog(inner, { keyring: keys.keyring, seal: true })
    await sealed.append('events.raw', Array.from({ length: 20 }, (_, i) => ({ key: `p${i % 4}`, value: event(`p${i % 4}`, `c${i}`) })))
    await keys.keyring.shred(['p1'])
    const consumer = sealed.createConsumer({ group: 'g', topic: 'events.raw', maxWaitMs: 10 })
    const seen: { key: string | null; shredded: boolean }[] = []
    const running = consumer.run(async (batch) => {
      for (const r of batch.records) seen.push({ key: r.key, shredded: r.shredded === true })
      if (seen.length >= 20) void consumer.stop()
    })
    await running
    expect(seen.filter((s) => s.shredded)).toHaveLength(5)
    expect(seen.filter((s) => !s.shredded).map((s) => s.key).sort()).toEqual([...Array(15)].map((_, i) => ['p0', 'p2', 'p3'][Math.floor(i / 5)]))
  })

  it('a tampered sealed value is an error naming the record, not garbage', async () => {
    const sealed = new SealedEventLog(inner, { keyring: keys.keyring, seal: true })
    const { positions } = await sealed.append('events.raw', [{ key: 'ann', value: event('ann', 'x') }])
    const [raw] = await inner.read('events.raw', positions[0]!.partition, positions[0]!.offset, 1)
    const mem = new MemoryEventLog()
    await mem.ensureTopic('events.raw', 4)
    const v = raw!.value
    const flipped = v.slice(0, -6) + (v.at(-6) === 'A' ? 'B' : 'A') + v.slice(-5)
    const p = await mem.append('events.raw', [{ key: raw!.key, partitionKey: 'ann', value: flipped }])
    const reader = new SealedEventLog(mem, { keyring: keys.keyring, seal: true })
    await expect(reader.read('events.raw', p.positions[0]!.partition, 0, 1)).rejects.toThrow(/does not open: the envelope does not authenticate/)
  })

  it('every key a record is sealed under is durable before the record reaches the log (concurrent appends, new subjects)', async () => {
    // Another process's view of keys.db, asked at the moment each record is handed to the log: a crash right
    // after this point must leave every appended (and so every acknowledged) record readable.
    const elsewhere = await keys.reopen(0)
    const checked: string[] = []
    class CheckingLog extends MemoryEventLog {
      override async append(topic: string, records: readonly AppendRecord[]): Promise<AppendResult> {
        const found = await elsewhere.keysByRef(records.map((r) => ({ ref: r.key!, keyId: sealedKeyId(r.value) })))
        found.forEach((k, i) => { if (k === null) throw new Error(`record ${i} is sealed under a key not in keys.db`) })
        checked.push(...records.map((r) => r.key!))
        return super.append(topic, records)
      }
    }
    const log = new CheckingLog()
    await log.ensureTopic('events.raw', 4)
    const sealed = new SealedEventLog(log, { keyring: keys.keyring, seal: true })
    await sealed.append('events.raw', [{ key: 'old', value: event('old', 'o') }])
    const calls = Array.from({ length: 8 }, (_, c) => sealed.append('events.raw', Array.from({ length: 5 }, (_, i) => ({ key: i === 0 ? 'old' : `new-${c}-${i}`, value: event(`new-${c}-${i}`, `v${c}${i}`) }))))
    await Promise.all(calls)
    expect(checked).toHaveLength(41)
  })

  it('appends nothing when the data keys cannot be stored', async () => {
    const broken = await keys.reopen(0)
    const log = new MemoryEventLog()
    await log.ensureTopic('events.raw', 4)
    const sealed = new SealedEventLog(log, { keyring: broken, seal: true })
    await keys.cleanup() // closes the key store under the keyring
    await expect(sealed.append('events.raw', [{ key: 'ann', value: event('ann', 'x') }])).rejects.toThrow()
    expect((await log.endOffsets('events.raw')).every((p) => p.offset === 0)).toBe(true)
    keys = await tempKeyring(0) // for afterEach
  })

  it('a read batch mixing plain records, live and shredded subjects opens each record as it should (keys looked up per batch)', async () => {
    const sealed = new SealedEventLog(inner, { keyring: keys.keyring, seal: true })
    await inner.append('events.raw', [{ key: 'plain', value: event('plain', 'p') }])
    await sealed.append('events.raw', ['ann', 'bob', 'cid', 'ann', 'bob', 'cid'].map((who, i) => ({ key: who, value: event(who, `c${i}`) })))
    await keys.keyring.shred(['bob'])
    const reader = new SealedEventLog(inner, { keyring: await keys.reopen(60_000), seal: true })
    const records = (await Promise.all([0, 1, 2, 3].map((p) => reader.read('events.raw', p, 0, 100)))).flat()
    expect(records.map((r) => r.shredded === true ? `~${r.key === keys.keyring.pseudonym('bob') ? 'bob' : r.key}` : r.key).sort())
      .toEqual(['ann', 'ann', 'cid', 'cid', 'plain', '~bob', '~bob'])
  })
})
