/**
 * A simple end-to-end load run (the full benchmark suite is the benchmark issue's): starts `tessera up` as a
 * separate process on a fresh data dir, sends Segment batches from this process for a fixed time, then
 * waits until the pipeline has processed everything, and checks the profile store holds every event.
 *
 *   npx tsx bench/load.ts [--seconds 20] [--concurrency 32] [--batch 100] [--users 100000] [--scaleout]
 *
 * `--scaleout` runs Tessera on Kafka (librdkafka's mock cluster, three brokers on loopback) and PostgreSQL
 * (a fresh schema on the local server) instead of the embedded SQLite files.
 *
 * Prints accepted events/s (HTTP), end-to-end events/s (first send → last event in a profile) and the
 * server's resident memory, and writes bench/results/load-<time>.json.
 */
import { parseArgs } from 'node:util'
import { randomUUID } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { tempDir } from '../test/support/factories.js'
import { ADMIN_TOKEN, WRITE_KEY, basicAuth } from '../test/support/tessera-harness.js'
import { startServerProcess } from '../test/support/server-process.js'
import { dropSchema, freshSchemaName, requirePostgres } from '../test/support/services.js'
import { startKafkaMock } from '../test/support/kafka-mock.js'
import { TOPICS } from '../src/log/event-log.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' }, concurrency: { type: 'string', default: '32' },
    batch: { type: 'string', default: '100' }, users: { type: 'string', default: '100000' },
    scaleout: { type: 'boolean', default: false },
  },
})
const seconds = Number(values.seconds)
const concurrency = Number(values.concurrency)
const batchSize = Number(values.batch)
const users = Number(values.users)

const UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1'
let n = 0
function event(): Record<string, unknown> {
  const u = n++ % users
  const kind = n % 10
  const base = { anonymousId: `anon-${u}`, messageId: randomUUID(), context: { userAgent: UA, page: { url: `https://shop.example/p/${n % 500}?utm_source=bench` } } }
  if (kind === 0) return { ...base, type: 'identify', userId: `user-${u}`, traits: { email: `user${u}@example.com`, plan: 'pro' } }
  if (kind < 5) return { ...base, type: 'page', name: 'Product', properties: { path: `/p/${n % 500}` } }
  return { ...base, type: 'track', userId: u % 2 ? `user-${u}` : undefined, event: 'Product Viewed', properties: { sku: `sku-${n % 5000}`, price: 19.99 } }
}

const temp = tempDir('tessera-load-')
const env: Record<string, string> = { TESSERA_LOG_LEVEL: 'error' }
let teardown = async (): Promise<void> => undefined
if (values.scaleout) {
  const pg = await requirePostgres()
  if (!pg) throw new Error('--scaleout needs PostgreSQL on 127.0.0.1:5432')
  const mock = await startKafkaMock({ topics: { [TOPICS.raw]: 4, [TOPICS.resolved]: 4, [TOPICS.deadLetter]: 1 } })
  const schema = freshSchemaName('bench')
  const configFile = `${temp.dir}/tessera.config.json`
  writeFileSync(configFile, JSON.stringify({ log: { kind: 'kafka', brokers: mock.brokers }, store: { kind: 'postgres', url: pg, schema } }))
  env.TESSERA_CONFIG = configFile
  teardown = async () => {
    await mock.stop()
    await dropSchema(pg, schema)
  }
}
const server = await startServerProcess(`${temp.dir}/data`, env)
let accepted = 0
let refused = 0
const latencies: number[] = []
const start = performance.now()
const until = start + seconds * 1000
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (performance.now() < until) {
    const batch = Array.from({ length: batchSize }, event)
    const t = performance.now()
    const res = await fetch(`${server.url}/v1/batch`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: basicAuth(WRITE_KEY) },
      body: JSON.stringify({ batch }),
    })
    await res.arrayBuffer()
    latencies.push(performance.now() - t)
    if (res.status === 200) accepted += batch.length
    else {
      refused += batch.length
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}))
const sendSeconds = (performance.now() - start) / 1000
const admin = (path: string) => fetch(server.url + path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }).then((r) => r.json())
let rssMb = 0
for (;;) {
  rssMb = Math.max(rssMb, Number(readFileSync(`/proc/${server.child.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) / 1024)
  // Done when every accepted event is in a profile timeline (lag alone could be stale or unknown).
  const now = (await admin('/v1/stats')) as { events: number }
  if (now.events >= accepted) break
  if (performance.now() - start > (seconds + 600) * 1000) throw new Error(`pipeline did not finish: ${now.events} of ${accepted}`)
  await new Promise((r) => setTimeout(r, 100))
}
const e2eSeconds = (performance.now() - start) / 1000
const stats = (await admin('/v1/stats')) as { events: number; profiles: number; identifiers: number }
latencies.sort((a, b) => a - b)
const pct = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0
const result = {
  machine: { cpus: cpus().length, model: cpus()[0]?.model, memGb: Math.round(totalmem() / 2 ** 30), node: process.version },
  mode: values.scaleout ? 'scale-out (Kafka mock cluster + PostgreSQL)' : 'embedded',
  settings: { seconds, concurrency, batchSize, users },
  accepted, refused,
  acceptedPerSecond: Math.round(accepted / sendSeconds),
  endToEndPerSecond: Math.round(accepted / e2eSeconds),
  requestP50Ms: Number(pct(0.5).toFixed(1)), requestP99Ms: Number(pct(0.99).toFixed(1)),
  drainSeconds: Number((e2eSeconds - sendSeconds).toFixed(1)),
  serverRssMb: Math.round(rssMb),
  store: stats,
}
await server.kill('SIGTERM')
await teardown()
temp.cleanup()
console.table({
  'accepted events/s (HTTP)': result.acceptedPerSecond, 'end-to-end events/s': result.endToEndPerSecond,
  'request p50 ms': result.requestP50Ms, 'request p99 ms': result.requestP99Ms, 'server RSS MB': result.serverRssMb,
  'events in profiles': stats.events, 'events accepted': accepted,
})
if (stats.events !== accepted) {
  console.error(`MISMATCH: ${accepted} accepted but ${stats.events} in the profile timelines`)
  process.exitCode = 1
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
writeFileSync(new URL(`./results/load-${new Date().toISOString().replace(/[:.]/g, '-')}.json`, import.meta.url), JSON.stringify(result, null, 2))
