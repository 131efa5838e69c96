/**
 * @module Measures what sealing the event log costs (not part of the test suite): `npm run bench:crypto`.
 * Appends batches of realistic events to an in-memory log and reads them back, plain (the baseline) and through the
 * sealing decorator, in the same run: µs per event with cached data keys, with a new subject per event (the key is
 * created, wrapped and stored in a SQLite keys.db), and the bytes a sealed record adds. Medians of REPEATS runs.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Keyring } from '../src/governance/crypto/keyring.js'
import { LocalKeyFile } from '../src/governance/crypto/local-key-file.js'
import type { AppendRecord, EventLog } from '../src/log/event-log.js'
import { MemoryEventLog } from '../src/log/memory/memory-event-log.js'
import { SealedEventLog } from '../src/log/sealed/sealed-event-log.js'
import { SqliteDataKeyStore } from '../src/storage/sqlite/data-key-store.js'

const BATCH = 100
const EVENTS = 20_000
const REPEATS = 7
const SUBJECTS = 1_000

function event(i: number, subject: string): AppendRecord {
  return {
    key: subject,
    value: JSON.stringify({
      type: 'track', event: 'Product Viewed', messageId: `msg-${i}-${subject}`, anonymousId: subject, userId: null, sourceId: 'web',
      receivedAt: '2026-12-03T12:00:00.000Z', timestamp: '2026-12-03T11:59:59.000Z',
      properties: { product_id: `sku-${i % 500}`, price: 19.99, currency: 'EUR', category: 'shoes' },
      context: { ip: '203.0.113.7', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36', page: { url: 'https://shop.example.com/p/1', title: 'Shoes' } },
    }),
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

/** µs per event to append `records` in batches and read them all back. */
async function loop(log: EventLog, records: readonly AppendRecord[]): Promise<number> {
  const topic = `t${Math.random().toString(36).slice(2)}`
  await log.ensureTopic(topic, 4)
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < records.length; i += BATCH) await log.append(topic, records.slice(i, i + BATCH))
  let read = 0
  for (let p = 0; p < 4; p++) {
    for (let offset = 0; ;) {
      const got = await log.read(topic, p, offset, 1000)
      if (got.length === 0) break
      read += got.length
      offset = got[got.length - 1]!.offset + 1
    }
  }
  if (read !== records.length) throw new Error(`read ${read} of ${records.length}`)
  return Number(process.hrtime.bigint() - t0) / 1e3 / records.length
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-crypto-'))
  const store = new SqliteDataKeyStore(join(dir, 'keys.db'))
  await store.migrate()
  const keyring = await Keyring.open({ kms: LocalKeyFile.load({ keyFile: join(dir, 'master.key'), env: {}, create: true }), store, cacheTtlMs: 3_600_000 })
  try {
    const cachedRecords = Array.from({ length: EVENTS }, (_, i) => event(i, `anon-${i % SUBJECTS}`))
    await keyring.keysFor(cachedRecords.map((r) => r.key!))
    const plain: number[] = []
    const cached: number[] = []
    const fresh: number[] = []
    const freshPlain: number[] = []
    for (let r = 0; r < REPEATS; r++) {
      plain.push(await loop(new MemoryEventLog(), cachedRecords))
      cached.push(await loop(new SealedEventLog(new MemoryEventLog(), { keyring, seal: true }), cachedRecords))
      const newOnes = Array.from({ length: 2_000 }, (_, i) => event(i, `new-${r}-${i}`))
      freshPlain.push(await loop(new MemoryEventLog(), newOnes))
      fresh.push(await loop(new SealedEventLog(new MemoryEventLog(), { keyring, seal: true }), newOnes))
    }
    // Bytes as stored: key + value of each record, plain and sealed.
    const inner = new MemoryEventLog()
    await inner.ensureTopic('b', 1)
    const sample = cachedRecords.slice(0, 1000)
    await new SealedEventLog(inner, { keyring, seal: true }).append('b', sample)
    const sealedBytes = (await inner.read('b', 0, 0, 1000)).reduce((n, x) => n + Buffer.byteLength(x.value) + Buffer.byteLength(x.key ?? ''), 0)
    const plainBytes = sample.reduce((n, x) => n + Buffer.byteLength(x.value) + Buffer.byteLength(x.key ?? ''), 0)
    const p = median(plain)
    const c = median(cached)
    const fp = median(freshPlain)
    const f = median(fresh)
    console.log(`seal + open, append batches of ${BATCH} and read back, in-memory log, medians of ${REPEATS} runs (node ${process.version}):`)
    console.log(`  baseline (plain)          ${p.toFixed(2)} µs/event`)
    console.log(`  sealed, cached data keys  ${c.toFixed(2)} µs/event  (+${(c - p).toFixed(2)} µs, ${(c / p).toFixed(1)}x baseline)`)
    console.log(`  sealed, new subject each  ${f.toFixed(2)} µs/event  (+${(f - fp).toFixed(2)} µs over its plain baseline ${fp.toFixed(2)}; key created, wrapped, stored in keys.db)`)
    console.log(`  record size: ${(plainBytes / sample.length).toFixed(0)} → ${(sealedBytes / sample.length).toFixed(0)} bytes (+${((sealedBytes / plainBytes - 1) * 100).toFixed(0)}%)`)
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
