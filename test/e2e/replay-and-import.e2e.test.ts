/** `tessera import` into a running server, then `tessera replay` rebuilding the same profiles from the log. */
import { describe, expect, it } from 'vitest'
import { writeFileSync, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { runImport } from '../../src/cli/import.js'
import { runReplay } from '../../src/cli/replay.js'
import { tempDir } from '../support/factories.js'
import { ADMIN_TOKEN, WRITE_KEY, startHarness as startTesseraHarness } from '../support/tessera-harness.js'

function sink(): { stream: Writable; text: () => string } {
  let text = ''
  return { stream: new Writable({ write(chunk, _e, done) { text += String(chunk); done() } }), text: () => text }
}

/** Runs the CLI's replay with the profile-update mode of the harness (the CLI reads it from the environment). */
async function replay(args: string[], mode: 'inline' | 'partitioned'): Promise<number> {
  const before = process.env.TESSERA_PROFILE_UPDATES
  process.env.TESSERA_PROFILE_UPDATES = mode
  try {
    return await runReplay(args)
  } finally {
    if (before === undefined) delete process.env.TESSERA_PROFILE_UPDATES
    else process.env.TESSERA_PROFILE_UPDATES = before
  }
}

describe.each(['inline', 'partitioned'] as const)('import and replay (profile updates %s)', (mode) => {
  const startHarness = (overrides: Parameters<typeof startTesseraHarness>[0], dataDir: string): ReturnType<typeof startTesseraHarness> =>
    startTesseraHarness({ ...overrides, pipeline: { profileUpdates: mode } }, dataDir)

  it('imports a CRM export with a report of rejected rows, and replay rebuilds identical profiles', async () => {
    const temp = tempDir('tessera-replay-')
    const dataDir = join(temp.dir, 'data')
    const csv = join(temp.dir, 'crm.csv')
    writeFileSync(csv, '\ufeffuser_id,email,first_name,company\r\n' +
      'c-1,Ann@Example.com,Ann,"Acme, Inc."\r\n' +
      'c-2,bob@example.com,Bob,Initech\r\n' +
      ',,NoIdentifier,Nowhere\r\n' +
      'c-3,carol@example.com,Carol,"Globex ""East"""\r\n')
    let h = await startHarness({}, dataDir)
    const out = sink()
    const err = sink()
    const code = await runImport([csv, '--source', 'default', '--url', h.url, '--write-key', WRITE_KEY], { stdout: out.stream, stderr: err.stream, env: {} })
    expect(code).toBe(2) // one row rejected
    expect(existsSync(`${csv}.rejected.csv`)).toBe(true)
    expect(readFileSync(`${csv}.rejected.csv`, 'utf8')).toContain('NoIdentifier')
    // Live traffic on top: the same person browses anonymously, then logs in.
    await h.send('/v1/page', { anonymousId: 'web-ann', name: 'Home' })
    await h.send('/v1/identify', { anonymousId: 'web-ann', userId: 'c-1' })
    await h.drain()
    const before = await h.admin<{ id: string; traits: Record<string, unknown>; eventCount: number; identities: unknown[] }>('/v1/profiles?identifier=email:ann@example.com')
    expect(before.body.traits).toMatchObject({ company: 'Acme, Inc.' })
    expect(before.body.eventCount).toBe(3)
    const carol = await h.admin<{ traits: Record<string, unknown> }>('/v1/profiles?identifier=user_id:c-3')
    expect(carol.body.traits.company).toBe('Globex "East"')
    const statsBefore = (await h.admin('/v1/stats')).body
    await h.tessera.close()

    // Replay refuses to run while Tessera runs on the same data dir.
    h = await startHarness({}, dataDir)
    await expect(replay(['--from', 'earliest', '--data-dir', dataDir], mode)).rejects.toThrow(/in use by process/)
    await h.tessera.close()

    expect(await replay(['--from', 'earliest', '--data-dir', dataDir], mode)).toBe(0)
    h = await startHarness({}, dataDir)
    const after = await h.admin<typeof before.body>('/v1/profiles?identifier=email:ann@example.com')
    // Same ids (deterministic), traits, counters and identities; only updatedAt (wall clock of the rebuild) moves.
    expect({ ...after.body, updatedAt: undefined }).toEqual({ ...before.body, updatedAt: undefined })
    expect((await h.admin('/v1/stats')).body).toEqual(statsBefore)
    // A replay from a time after everything was sent leaves an empty state.
    await h.tessera.close()
    expect(await replay(['--from', new Date(Date.now() + 60_000).toISOString(), '--data-dir', dataDir], mode)).toBe(0)
    h = await startHarness({}, dataDir)
    expect((await h.admin('/v1/profiles?identifier=email:ann@example.com')).status).toBe(404)
    await h.tessera.close()
    temp.cleanup()
    void ADMIN_TOKEN
  }, 60_000)
})
