/**
 * Master keys in an HSM (PKCS#11, SoftHSM2): `tessera keys create-master` makes the key in the token, `tessera up`
 * seals the event log and the pseudonymous state under data keys it wraps in the token, `tessera keys rotate-master`
 * moves every data key to a new token key, and after the rotation the old key is no longer needed (a start with
 * only the old key fails, naming the new one). Runs the built CLI as separate processes, as an operator would.
 */
import { spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { tempDir } from '../support/factories.js'
import { assertBuilt, ROOT, startServerProcess, type ServerProcess } from '../support/server-process.js'
import { requireSoftHsm, TOKEN_PIN } from '../support/softhsm.js'
import { ADMIN_TOKEN, basicAuth, WRITE_KEY } from '../support/tessera-harness.js'

const hsm = await requireSoftHsm()
const BIN = join(ROOT, 'bin/tessera.js')

describe.skipIf(hsm === null)('master keys in an HSM through PKCS#11', () => {
  const temp = tempDir('tessera-hsm-')
  const dataDir = join(temp.dir, 'data')
  const configFile = join(temp.dir, 'tessera.config.json')
  const env = { TESSERA_CONFIG: configFile, TESSERA_DATA_DIR: dataDir, TESSERA_PKCS11_PIN: TOKEN_PIN, SOFTHSM2_CONF: hsm?.conf ?? '' }
  let server: ServerProcess | undefined
  afterAll(async () => {
    if (server && server.child.exitCode === null) await server.kill('SIGKILL')
    temp.cleanup()
    hsm?.cleanup()
  })

  const configure = (keyLabel: string, retiredKeyLabels: string[] = []): void => {
    writeFileSync(configFile, JSON.stringify({ governance: { encryption: { enabled: true, pkcs11: { library: hsm!.library, token: 'tessera', keyLabel, retiredKeyLabels } } } }))
  }
  const keys = (...args: string[]): { code: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [BIN, 'keys', ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' })
    return { code: r.status, stdout: r.stdout, stderr: r.stderr }
  }
  const admin = (path: string): Promise<Response> => fetch(server!.url + path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  const send = async (userId: string, n: number): Promise<void> => {
    const batch = Array.from({ length: n }, (_, i) => ({ type: 'track', userId, event: 'HSM Test', messageId: randomUUID(), properties: { i } }))
    batch.push({ type: 'identify', userId, messageId: randomUUID(), traits: { email: `${userId}@example.com` } } as never)
    const res = await fetch(`${server!.url}/v1/batch`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: basicAuth(WRITE_KEY) }, body: JSON.stringify({ batch }) })
    expect(res.status).toBe(200)
  }
  const profileOf = async (userId: string, events: number): Promise<{ id: string; eventCount: number; traits: Record<string, unknown> }> => {
    const deadline = Date.now() + 30_000
    for (;;) {
      const res = await admin(`/v1/profiles?identifier=user_id:${userId}`)
      if (res.status === 200) {
        const p = (await res.json()) as { id: string; eventCount: number; traits: Record<string, unknown> }
        if (p.eventCount >= events) return p
      }
      if (Date.now() > deadline) throw new Error(`the profile of ${userId} did not reach ${events} events`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  it('creates the key in the token, seals under it, rotates to a new one, and needs only the new one afterwards', async () => {
    assertBuilt()
    hsm!.initToken('tessera')
    configure('tessera-master-1')
    const created = keys('create-master', '--label', 'tessera-master-1', '--json')
    expect(created.stderr).toBe('')
    expect(JSON.parse(created.stdout)).toEqual({ keyId: 'p11:tessera-master-1', token: 'tessera' })
    expect(keys('create-master', '--label', 'tessera-master-1').stderr).toMatch(/already/)

    server = await startServerProcess(dataDir, env)
    await send('hsm-ann', 5)
    const before = await profileOf('hsm-ann', 6)
    expect(before.traits.email).toBe('hsm-ann@example.com')
    expect(await server.kill('SIGTERM')).toBe(0)

    const status = JSON.parse(keys('status', '--json').stdout) as { kms: { kind: string; currentKeyId: string }; dataKeys: number; byMasterKey: Record<string, number> }
    expect(status.kms).toMatchObject({ kind: 'pkcs11', currentKeyId: 'p11:tessera-master-1' })
    expect(status.dataKeys).toBeGreaterThan(0)
    expect(Object.keys(status.byMasterKey)).toEqual(['p11:tessera-master-1'])
    // No master key file: the only master key is the token's.
    expect(existsSync(join(dataDir, 'master.key'))).toBe(false)

    // Rotation: a new token key, named current, the old one retired; every data key moves to it.
    expect(keys('create-master', '--label', 'tessera-master-2').code).toBe(0)
    configure('tessera-master-2', ['tessera-master-1'])
    const rotated = JSON.parse(keys('rotate-master', '--json').stdout) as { mode: string; from: string[]; to: string; rewrapped: number; byMasterKey: Record<string, number> }
    expect(rotated).toMatchObject({ mode: 'pkcs11', from: ['p11:tessera-master-1'], to: 'p11:tessera-master-2' })
    const rows = status.byMasterKey['p11:tessera-master-1']! // the data keys and the keyring's root key
    expect(rotated.rewrapped).toBe(rows)
    expect(rotated.byMasterKey).toEqual({ 'p11:tessera-master-2': rows })
    expect(keys('rotate-master').stderr).toMatch(/already wrapped by p11:tessera-master-2/)

    // Without the old key: everything sealed before the rotation still opens, and new events are sealed too.
    configure('tessera-master-2')
    server = await startServerProcess(dataDir, env)
    const after = await profileOf('hsm-ann', 6)
    expect(after).toMatchObject({ id: before.id, eventCount: 6, traits: { email: 'hsm-ann@example.com' } })
    const timeline = (await (await admin(`/v1/profiles/${after.id}/events?limit=100`)).json()) as { events: unknown[] }
    expect(timeline.events).toHaveLength(6)
    await send('hsm-bob', 2)
    expect((await profileOf('hsm-bob', 3)).traits.email).toBe('hsm-bob@example.com')
    expect(await server.kill('SIGTERM')).toBe(0)

    // With only the old key, Tessera refuses to start, and says which key it needs.
    configure('tessera-master-1')
    await expect(startServerProcess(dataDir, env)).rejects.toThrow(/p11:tessera-master-2/)
  }, 120_000)
})
