/**
 * @module `tessera review list|accept|reject|reopen` and `tessera quarantine`: the identity review queue of the
 * real-time matcher (GET /v1/identity/review, POST .../{seq}/accept|reject|reopen) and the quarantined supernode
 * identifiers (GET /v1/identity/quarantine) from the command line, through the admin API with the admin token.
 */
import { parseArgs } from 'node:util'
import { adminToken, missingCredentialsHint, resolveConnection } from '../client/connection-settings.js'

const COMMON = `  --purpose NAME      the purpose sent as X-Tessera-Purpose (default: the token's own, else administration)
  --json              print the API's answer as JSON
  --url URL           the Tessera server (default http://127.0.0.1:$TESSERA_PORT, 3000)
  --data-dir DIR      where credentials.json is (default $TESSERA_DATA_DIR or ./data)

Uses TESSERA_ADMIN_TOKEN or the admin token in <dataDir>/credentials.json.`

const REVIEW_HELP = `Usage: tessera review list [--status open|accepted|rejected] [--limit N]
       tessera review accept|reject|reopen <seq>

  list                pairs the real-time matcher scored in the review band (both profiles' traits, masked by policy)
  accept <seq>        merge the two profiles (refused if a unique identifier, a split rule or the size cap forbids it)
  reject <seq>        never merge them, not even through an identifier they share later (split rules)
  reopen <seq>        undo a rejection: its rules go and the item is open again
${COMMON}`

const QUARANTINE_HELP = `Usage: tessera quarantine [--limit N]

Lists the identifiers the supernode guard quarantined (they linked too many profiles and no longer link).
${COMMON}`

interface ReviewList {
  items: { seq: number; status: string; probability: number; time: string; principal: string | null; profiles: { profileId: string; exists: boolean; traits: Record<string, unknown> | null }[] }[]
  hidden: number
}

interface QuarantineList {
  quarantined: { seq: number; key: string; profiles: number; threshold: number; window: string; time: string }[]
}

type Call = (method: 'GET' | 'POST', path: string) => Promise<{ ok: true; body: unknown } | { ok: false }>

/** Resolves the server and token, and returns a caller that prints API errors the way the other commands do. */
function connect(command: string, values: { url?: string; 'data-dir'?: string; purpose?: string }, fetchImpl: typeof fetch): Call | null {
  const resolved = resolveConnection({ ...(values.url ? { url: values.url } : {}), ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}) })
  if (!resolved.ok) {
    console.error(`tessera ${command}: ${resolved.message}`)
    return null
  }
  const token = adminToken(resolved.settings)
  if (token === null) {
    console.error(`tessera ${command}: no admin token. ${missingCredentialsHint(resolved.settings)}`)
    return null
  }
  const base = resolved.settings.url
  return async (method, path) => {
    let response: Response
    try {
      response = await fetchImpl(base + path, {
        method, headers: { authorization: `Bearer ${token}`, ...(values.purpose !== undefined ? { 'x-tessera-purpose': values.purpose } : {}) },
      })
    } catch (error) {
      console.error(`tessera ${command}: cannot reach Tessera at ${base} (${(error as Error).message}); is \`tessera up\` running?`)
      return { ok: false }
    }
    const text = await response.text()
    if (!response.ok) {
      let message = text
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? text
      } catch {
        // not JSON: print the body as it came
      }
      console.error(`tessera ${command}: ${response.status} ${message}`)
      return { ok: false }
    }
    return { ok: true, body: JSON.parse(text) as unknown }
  }
}

const OPTIONS = {
  purpose: { type: 'string' }, json: { type: 'boolean' }, url: { type: 'string' }, 'data-dir': { type: 'string' }, help: { type: 'boolean' },
  status: { type: 'string' }, limit: { type: 'string' },
} as const

export async function runReview(argv: readonly string[], fetchImpl: typeof fetch = fetch): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, options: OPTIONS })
  if (values.help) {
    console.log(REVIEW_HELP)
    return 0
  }
  const [action, seqText, ...rest] = positionals
  const decisions = ['accept', 'reject', 'reopen']
  if (action === 'list' ? seqText !== undefined : !decisions.includes(action ?? '') || seqText === undefined || rest.length > 0 || !/^[1-9]\d*$/.test(seqText)) {
    console.error(`tessera review: give "list", or accept|reject|reopen and one item number\n\n${REVIEW_HELP}`)
    return 1
  }
  if (values.status !== undefined && !['open', 'accepted', 'rejected'].includes(values.status)) {
    console.error('tessera review: --status must be open, accepted or rejected')
    return 1
  }
  const call = connect('review', values, fetchImpl)
  if (call === null) return 1
  if (action !== 'list') {
    const answer = await call('POST', `/v1/identity/review/${seqText}/${action}`)
    if (!answer.ok) return 1
    const body = answer.body as { seq: number; status: string; profileId: string | null; merged: string | null }
    if (values.json) console.log(JSON.stringify(body, null, 2))
    else console.log(`review item ${body.seq}: ${body.status}${body.profileId ? ` (${body.merged} merged into ${body.profileId})` : ''}`)
    return 0
  }
  const query = new URLSearchParams({ status: values.status ?? 'open', ...(values.limit ? { limit: values.limit } : {}) })
  const answer = await call('GET', `/v1/identity/review?${query.toString()}`)
  if (!answer.ok) return 1
  const list = answer.body as ReviewList
  if (values.json) {
    console.log(JSON.stringify(list, null, 2))
    return 0
  }
  if (list.items.length === 0) console.log(`no ${values.status ?? 'open'} review items`)
  for (const item of list.items) {
    console.log(`#${item.seq} ${item.status} p=${item.probability.toFixed(3)} ${item.time}${item.principal ? ` by ${item.principal}` : ''}`)
    for (const p of item.profiles) console.log(`  ${p.profileId}${p.exists ? '' : ' (merged or gone)'}: ${p.traits === null ? '(not visible to this token)' : JSON.stringify(p.traits)}`)
  }
  if (list.hidden > 0) console.log(`(${list.hidden} items this token may not review are not shown)`)
  return 0
}

export async function runQuarantine(argv: readonly string[], fetchImpl: typeof fetch = fetch): Promise<number> {
  const { values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, options: OPTIONS })
  if (values.help) {
    console.log(QUARANTINE_HELP)
    return 0
  }
  if (positionals.length > 0 && !(positionals.length === 1 && positionals[0] === 'list')) {
    console.error(`tessera quarantine: unexpected ${JSON.stringify(positionals.join(' '))}\n\n${QUARANTINE_HELP}`)
    return 1
  }
  const call = connect('quarantine', values, fetchImpl)
  if (call === null) return 1
  const answer = await call('GET', `/v1/identity/quarantine${values.limit ? `?limit=${encodeURIComponent(values.limit)}` : ''}`)
  if (!answer.ok) return 1
  const list = answer.body as QuarantineList
  if (values.json) console.log(JSON.stringify(list, null, 2))
  else if (list.quarantined.length === 0) console.log('no quarantined identifiers')
  else for (const q of list.quarantined) console.log(`#${q.seq} ${q.key}: reached ${q.profiles} profiles (threshold ${q.threshold} in ${q.window}) at ${q.time}`)
  return 0
}
