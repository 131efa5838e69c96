/**
 * Scale-out faults with real processes: one ingest process and two pipeline processes in one Kafka consumer
 * group, on librdkafka's mock cluster and PostgreSQL. One pipeline process is killed with SIGKILL mid-stream;
 * its partitions move to the other (after the group's session timeout) and every event is counted exactly once.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { TOPICS } from '../../src/log/event-log.js'
import { tempDir } from '../support/factories.js'
import { dropSchema, freshSchemaName, requirePostgres } from '../support/services.js'
import { skipWithoutKafkaMock, startKafkaMock, type KafkaMock } from '../support/kafka-mock.js'
import { ADMIN_TOKEN, WRITE_KEY, basicAuth } from '../support/tessera-harness.js'
import { startServerProcess, type ServerProcess } from '../support/server-process.js'

const url = await requirePostgres()
const kafka = !skipWithoutKafkaMock()

;(url && kafka ? describe : describe.skip)('scale-out: a pipeline process dies mid-stream', () => {
  const temp = tempDir('tessera-scaleout-')
  const schema = freshSchemaName('fault')
  const processes: ServerProcess[] = []
  let mock: KafkaMock | undefined
  afterAll(async () => {
    for (const p of processes) if (p.child.exitCode === null && p.child.signalCode === null) await p.kill('SIGTERM')
    await mock?.stop()
    if (url) await dropSchema(url, schema)
    temp.cleanup()
  })

  it('moves its partitions to the surviving worker and loses or double-counts nothing', async () => {
    mock = await startKafkaMock({ topics: { [TOPICS.raw]: 4, [TOPICS.resolved]: 4, [TOPICS.deadLetter]: 1 } })
    const configFile = join(temp.dir, 'tessera.config.json')
    writeFileSync(configFile, JSON.stringify({
      log: { kind: 'kafka', brokers: mock.brokers },
      store: { kind: 'postgres', url, schema },
      pipeline: { batchSize: 200, timelineLimit: 0 },
      // One audit signing key for all three processes: they append to one audit store (the pipeline workers through
      // the identity audit relay) and each checks the latest checkpoint, whoever signed it, when it opens the log.
      // Every process of the deployment seals with the same master key: one key file they share.
      governance: { audit: { signingKeyFile: join(temp.dir, 'audit-signing-key.pem') }, encryption: { keyFile: join(temp.dir, 'master.key') } },
    }))
    const env = { TESSERA_CONFIG: configFile }
    const ingest = await startServerProcess(join(temp.dir, 'ingest'), env, ['--role', 'ingest'])
    const workerA = await startServerProcess(join(temp.dir, 'a'), env, ['--role', 'pipeline'])
    const workerB = await startServerProcess(join(temp.dir, 'b'), env, ['--role', 'pipeline'])
    processes.push(ingest, workerA, workerB)
    expect((await fetch(`${ingest.url}/readyz`)).status).toBe(200)
    // The pipeline role serves no tracking API.
    expect((await fetch(`${workerA.url}/v1/track`, { method: 'POST', body: '{}' })).status).toBe(404)

    const users = Array.from({ length: 60 }, (_, i) => `so-${i}-${randomUUID().slice(0, 6)}`)
    const sent = new Map<string, number>()
    let accepted = 0
    const send = async (round: number): Promise<void> => {
      const batch = users.map((u) => ({ type: 'track', userId: u, event: 'Tick', messageId: randomUUID(), properties: { round } }))
      const res = await fetch(`${ingest.url}/v1/batch`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: basicAuth(WRITE_KEY) }, body: JSON.stringify({ batch }),
      })
      expect(res.status).toBe(200)
      accepted += batch.length
      for (const u of users) sent.set(u, (sent.get(u) ?? 0) + 1)
    }
    for (let round = 0; round < 20; round++) await send(round)
    await workerA.kill('SIGKILL')
    for (let round = 20; round < 40; round++) await send(round)

    const admin = (path: string) => fetch(ingest.url + path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    const deadline = Date.now() + 90_000 // the dead member leaves the group after its session timeout (30 s)
    for (;;) {
      const stats = (await (await admin('/v1/stats')).json()) as { events: number }
      if (stats.events >= accepted) break
      if (Date.now() > deadline) {
        const tail = (p: ServerProcess): string => p.stderr().split('\n').slice(-40).join('\n')
        throw new Error(`only ${stats.events} of ${accepted} events processed; the surviving worker's log:\n${tail(workerB)}\n--- ingest:\n${tail(ingest)}`)
      }
      await new Promise((r) => setTimeout(r, 250))
    }
    await new Promise((r) => setTimeout(r, 500)) // anything double-counted would show up by now
    expect(((await (await admin('/v1/stats')).json()) as { events: number }).events).toBe(accepted)
    for (const u of users) {
      const profile = (await (await admin(`/v1/profiles?identifier=user_id:${u}`)).json()) as { eventCount: number }
      expect(profile.eventCount, u).toBe(sent.get(u))
    }
  }, 150_000)
})
