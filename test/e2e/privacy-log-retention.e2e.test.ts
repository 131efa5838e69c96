/**
 * Retention reaching the event log, end to end on the embedded log: events received 400 days ago (Tessera's clock
 * set back) are deleted from events.raw and events.resolved by `tessera retention run` once the pipeline has read
 * them, never before (a pipeline that has not read them protects them), with counts (never values) in the audit log;
 * the log's offsets carry on afterwards, and a replay rebuilds from what is left without reporting losses.
 */
import { renameSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import pino from 'pino'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { startTessera, type RunningTessera } from '../../src/app/tessera.js'
import { main } from '../../src/cli/main.js'
import { loadConfig } from '../../src/config/config.js'
import { tempDir } from '../support/factories.js'
import { readWholeLog } from '../support/log-canary.js'
import { ADMIN_TOKEN, WRITE_KEY, basicAuth } from '../support/tessera-harness.js'

const DAY = 86_400_000
const data = tempDir()
const env = { TESSERA_WRITE_KEY: WRITE_KEY, TESSERA_ADMIN_TOKEN: ADMIN_TOKEN }
let now = Date.now() - 400 * DAY

async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = []
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')))
  const err = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')))
  const out = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString())
    return true
  })
  try {
    return { code: await main(args), out: lines.join('\n') }
  } finally {
    log.mockRestore()
    err.mockRestore()
    out.mockRestore()
  }
}

async function start(): Promise<RunningTessera> {
  const config = loadConfig({ env, file: undefined, overrides: { dataDir: data.dir, governance: { retention: { intervalMinutes: 0 } } } })
  return startTessera(config, { env, logger: pino({ level: 'silent' }), clock: { now: () => now }, listen: false })
}

async function track(t: RunningTessera, userId: string, canary: string): Promise<void> {
  const res = await t.app.inject({ method: 'POST', url: '/v1/track', headers: { authorization: basicAuth(WRITE_KEY) }, payload: { userId, event: 'Viewed', properties: { note: canary } } })
  expect(res.statusCode, res.body).toBe(200)
}

/** How many records of a log file's topic hold `text` (read through the keyring: the records are sealed). */
async function inLog(file: 'raw' | 'output', topic: string, text: string): Promise<number> {
  const { readable } = await readWholeLog(loadConfig({ env: {}, file: undefined, overrides: { dataDir: data.dir } }), [file], [topic])
  return readable.filter((v) => v.includes(text)).length
}

afterAll(() => data.cleanup())

describe('log retention with a fake clock', () => {
  it('deletes expired records the pipeline has read, protects unread ones, audits counts, and leaves a log that replays', async () => {
    let t = await start()
    for (let i = 0; i < 3; i++) await track(t, 'old-user', `LOG-CANARY-OLD-${i}`)
    expect(await t.pipeline!.drain(20_000)).toBe(true)
    now = Date.now()
    for (let i = 0; i < 2; i++) await track(t, 'new-user', `LOG-CANARY-NEW-${i}`)
    expect(await t.pipeline!.drain(20_000)).toBe(true)
    await t.close()
    expect(await inLog('raw', 'events.raw', 'LOG-CANARY-OLD')).toBe(3)
    expect(await inLog('output', 'events.resolved', 'LOG-CANARY-OLD')).toBe(3)

    // A pipeline that has not read the records (here: its stored offsets set back) keeps them in events.raw.
    const state = new Database(join(data.dir, 'state.db'))
    const saved = state.prepare("SELECT * FROM consumer_offsets WHERE topic = 'events.raw'").all() as { group_id: string; topic: string; partition: number; next_offset: number }[]
    expect(saved.length).toBeGreaterThan(0)
    state.prepare("UPDATE consumer_offsets SET next_offset = 0 WHERE topic = 'events.raw'").run()
    state.close()
    const unread = await cli('retention', 'run', '--json', '--dry-run', '--data-dir', data.dir)
    expect(unread.code, unread.out).toBe(0)
    expect(JSON.parse(unread.out)).toMatchObject({ log: { 'events.raw': 0, 'events.resolved': 3, 'events.dead-letter': 0 } })
    const restore = new Database(join(data.dir, 'state.db'))
    for (const r of saved) restore.prepare('UPDATE consumer_offsets SET next_offset = ? WHERE group_id = ? AND topic = ? AND partition = ?').run(r.next_offset, r.group_id, r.topic, r.partition)
    restore.close()

    const dry = await cli('retention', 'run', '--json', '--dry-run', '--data-dir', data.dir)
    expect(JSON.parse(dry.out)).toMatchObject({ dryRun: true, log: { 'events.raw': 3, 'events.resolved': 3 } })
    expect(await inLog('raw', 'events.raw', 'LOG-CANARY-OLD')).toBe(3)
    const run = await cli('retention', 'run', '--data-dir', data.dir)
    expect(run.code, run.out).toBe(0)
    expect(run.out).toMatch(/event-log records: events\.raw 3, events\.resolved 3, events\.dead-letter 0/)
    expect(await inLog('raw', 'events.raw', 'LOG-CANARY-OLD')).toBe(0)
    expect(await inLog('output', 'events.resolved', 'LOG-CANARY-OLD')).toBe(0)
    expect(await inLog('raw', 'events.raw', 'LOG-CANARY-NEW')).toBe(2)
    expect(await inLog('output', 'events.resolved', 'LOG-CANARY-NEW')).toBe(2)

    // Tessera carries on where the log was; the audit log has the counts and none of the values.
    t = await start()
    await track(t, 'newer-user', 'LOG-CANARY-NEWER')
    expect(await t.pipeline!.drain(20_000)).toBe(true)
    const profile = await t.app.inject({ method: 'GET', url: '/v1/profiles?identifier=user_id:newer-user', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    expect(profile.statusCode).toBe(200)
    const audit = await t.app.inject({ method: 'GET', url: '/v1/audit/entries?kind=retention.run&limit=100', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    expect(audit.body).toMatch(/"events\.raw":3/)
    expect(audit.body).not.toMatch(/LOG-CANARY/)
    await t.close()

    // A replay from the earliest record rebuilds from what the log still holds, and reports nothing as lost.
    renameSync(join(data.dir, 'state.db'), join(data.dir, 'state-before-replay.db'))
    const replay = await cli('replay', '--from', 'earliest', '--data-dir', data.dir)
    expect(replay.code, replay.out).toBe(0)
    expect(replay.out).toMatch(/replaying 3 events/)
    expect(replay.out).not.toMatch(/removed from the log before the pipeline read them/)
    t = await start()
    const get = (user: string): Promise<{ statusCode: number }> => t.app.inject({ method: 'GET', url: `/v1/profiles?identifier=user_id:${user}`, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    expect((await get('old-user')).statusCode).toBe(404) // its events left the log with retention
    expect((await get('new-user')).statusCode).toBe(200)
    await t.close()
  })
})
