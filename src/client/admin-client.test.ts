import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { AdminClient, parseIdentities, parseProfile } from './admin-client.js'

const TOKEN = 'tsa_admin_client_test_token'
let server: Server | undefined
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  server = undefined
})

/** Answers like the admin API for one profile. */
async function startAdminApi(): Promise<{ url: string; paths: string[] }> {
  const paths: string[] = []
  const profile = {
    id: 'p_1', status: 'active', traits: { email: 'ann@example.com' }, identities: [{ type: 'email', value: 'ann@example.com', firstSeen: '2024-05-01T00:00:00.000Z' }],
    firstSeen: '2024-05-01T00:00:00.000Z', lastSeen: '2024-05-02T00:00:00.000Z', eventCount: 3, sourceCounts: { web: 3 }, eventCounts: { page: 3 },
  }
  server = createServer((req, res) => {
    paths.push(req.url ?? '')
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    }
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return json(401, { success: false, code: 'TESSERA_UNAUTHORIZED', message: 'bad token' })
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname === '/v1/profiles' && url.searchParams.get('identifier') === 'email:ann@example.com') return json(200, profile)
    if (url.pathname === '/v1/profiles/p_1') return json(200, profile)
    if (url.pathname === '/v1/profiles/p_1/identities') return json(200, { profileId: 'p_1', identities: profile.identities, edges: [] })
    if (url.pathname === '/v1/profiles/p_1/events') return json(200, { profileId: 'p_1', events: [{ messageId: 'm', type: 'page' }], next: 'abc' })
    if (url.pathname === '/v1/stats') return json(200, { profiles: 1, identifiers: 1, events: 3, merges: 0 })
    return json(404, { success: false, code: 'TESSERA_NOT_FOUND', message: 'not found' })
  })
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths }
}

describe('AdminClient', () => {
  it('reads profiles, identities, events and stats; 404 is null', async () => {
    const api = await startAdminApi()
    const admin = new AdminClient({ url: api.url, token: TOKEN })
    const profile = await admin.profileByIdentifier('email', 'ann@example.com')
    expect(profile).toMatchObject({ id: 'p_1', eventCount: 3, sourceCounts: { web: 3 }, identities: [{ type: 'email', value: 'ann@example.com' }] })
    expect(await admin.profileByIdentifier('email', 'nobody@example.com')).toBeNull()
    expect(await admin.profile('p_1')).toMatchObject({ id: 'p_1' })
    expect(await admin.identities('p_1')).toEqual([{ type: 'email', value: 'ann@example.com' }])
    expect(await admin.events('p_1', { limit: 5, cursor: 'xyz' })).toEqual({ events: [{ messageId: 'm', type: 'page' }], next: 'abc' })
    expect(await admin.stats()).toEqual({ profiles: 1, identifiers: 1, events: 3, merges: 0 })
    expect(api.paths).toContain('/v1/profiles?identifier=email%3Aann%40example.com')
    expect(api.paths).toContain('/v1/profiles/p_1/events?limit=5&cursor=xyz')
  })

  it('throws CLIENT_UNAUTHORIZED for a refused token, without echoing it', async () => {
    const api = await startAdminApi()
    const error = await new AdminClient({ url: api.url, token: 'wrong-token-value' }).profile('p_1').catch((e: unknown) => e as Error)
    expect(error).toMatchObject({ code: 'CLIENT_UNAUTHORIZED', status: 401 })
    expect((error as Error).message).not.toContain('wrong-token-value')
  })

  it('parses tolerantly but insists on an id', () => {
    expect(parseProfile({ id: 'p', eventCount: 'x' })).toMatchObject({ id: 'p', eventCount: 0, traits: {}, identities: [] })
    expect(() => parseProfile({ status: 'merged' })).toThrow(/not a profile/)
    expect(parseIdentities([{ type: 'phone', value: 1 }, { type: 'x' }])).toEqual([{ type: 'phone', value: '1' }])
  })
})
