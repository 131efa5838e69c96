/**
 * @module `tessera unmerge <profileId> --identifier type:value | --edge from,to [--reason TEXT]`: splits a profile
 * through the admin API (POST /v1/profiles/{id}/unmerge) with the admin token, and prints the resulting profiles.
 */
import { parseArgs } from 'node:util'
import { adminToken, missingCredentialsHint, resolveConnection } from '../client/connection-settings.js'

const HELP = `Usage: tessera unmerge <profileId> (--identifier type:value | --edge type:value,type:value) [options]

  --identifier KEY    detach this identifier (e.g. email:ann@example.com) into a profile of its own
  --edge FROM,TO      remove this link (as listed by GET /v1/profiles/{id}/identities); refused if the
                      two sides stay connected through other links
  --reason TEXT       why (recorded with the unmerge and in the audit log)
  --purpose NAME      the purpose sent as X-Tessera-Purpose (default: the token's own, else administration)
  --json              print the API's answer as JSON
  --url URL           the Tessera server (default http://127.0.0.1:$TESSERA_PORT, 3000)
  --data-dir DIR      where credentials.json is (default $TESSERA_DATA_DIR or ./data)

Uses TESSERA_ADMIN_TOKEN or the admin token in <dataDir>/credentials.json.`

interface UnmergeAnswer {
  profileId: string
  unmergeSeq: number
  rebuild?: 'done' | 'queued'
  complete: boolean | null
  unattributedEvents: number | null
  profiles: { profileId: string; kept: boolean; eventCount: number | null; identifiers: string[] }[]
}

export async function runUnmerge(argv: readonly string[], fetchImpl: typeof fetch = fetch): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      identifier: { type: 'string' }, edge: { type: 'string' }, reason: { type: 'string' }, purpose: { type: 'string' },
      json: { type: 'boolean' }, url: { type: 'string' }, 'data-dir': { type: 'string' }, help: { type: 'boolean' },
    },
  })
  if (values.help) {
    console.log(HELP)
    return 0
  }
  const [profileId] = positionals
  if (profileId === undefined || positionals.length > 1 || (values.identifier === undefined) === (values.edge === undefined)) {
    console.error(`tessera unmerge: give one profile id and exactly one of --identifier or --edge\n\n${HELP}`)
    return 1
  }
  let edge: { from: string; to: string } | undefined
  if (values.edge !== undefined) {
    const parts = values.edge.split(',')
    if (parts.length !== 2 || parts.some((p) => !/^[a-z][a-z0-9_]*:.+$/.test(p))) {
      console.error('tessera unmerge: --edge must be two identifiers type:value separated by a comma, e.g. email:a@example.com,anonymous_id:x1')
      return 1
    }
    edge = { from: parts[0]!, to: parts[1]! }
  }
  const resolved = resolveConnection({ ...(values.url ? { url: values.url } : {}), ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}) })
  if (!resolved.ok) {
    console.error(`tessera unmerge: ${resolved.message}`)
    return 1
  }
  const token = adminToken(resolved.settings)
  if (token === null) {
    console.error(`tessera unmerge: no admin token. ${missingCredentialsHint(resolved.settings)}`)
    return 1
  }
  const body = {
    ...(values.identifier !== undefined ? { identifier: values.identifier } : { edge }),
    ...(values.reason !== undefined ? { reason: values.reason } : {}),
  }
  let response: Response
  try {
    response = await fetchImpl(`${resolved.settings.url}/v1/profiles/${encodeURIComponent(profileId)}/unmerge`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json', authorization: `Bearer ${token}`,
        ...(values.purpose !== undefined ? { 'x-tessera-purpose': values.purpose } : {}),
      },
      body: JSON.stringify(body),
    })
  } catch (error) {
    console.error(`tessera unmerge: cannot reach Tessera at ${resolved.settings.url} (${(error as Error).message}); is \`tessera up\` running?`)
    return 1
  }
  const text = await response.text()
  if (!response.ok) {
    let message = text
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text
    } catch {
      // not JSON: print the body as it came
    }
    console.error(`tessera unmerge: ${response.status} ${message}`)
    return 1
  }
  const answer = JSON.parse(text) as UnmergeAnswer
  if (values.json) {
    console.log(JSON.stringify(answer, null, 2))
    return 0
  }
  console.log(`Profile ${answer.profileId} split into ${answer.profiles.length} (unmerge #${answer.unmergeSeq}):`)
  for (const p of answer.profiles) {
    const events = p.eventCount === null ? 'rebuilding' : `${p.eventCount} events`
    console.log(`  ${p.profileId}${p.kept ? ' (kept id)' : ''}: ${events}; ${p.identifiers.join(', ')}`)
  }
  if (answer.rebuild === 'queued') {
    console.log('The identity graph is split; the profile owners (pipeline.profileUpdates partitioned) rebuild each part from its own events in a moment.')
  } else if (answer.complete === false) {
    console.log(`Note: the timeline had been trimmed; ${answer.unattributedEvents} older events could not be attributed and stay on the kept profile.`)
  }
  return 0
}
