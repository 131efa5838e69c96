/**
 * @module `tessera dsar create|status|list|verify|acknowledge|extend|run`: data-subject requests through the admin API
 * (`/v1/privacy/requests`), as a privacy officer (purpose privacy_request) or an admin. `verify` sends the requester a
 * one-time code, checks the code they gave back, or (privacy officers only) attests how they were verified;
 * `acknowledge` confirms receipt to the person and `extend` extends the deadline once, with the reason.
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { adminToken, missingCredentialsHint, resolveConnection } from '../client/connection-settings.js'

const HELP = `Usage: tessera dsar <command> [options]

  create --type access|erasure|opt_out|correct --identifier type:value --jurisdiction EU|EEA|UK|US-CA
         [--traits JSON]        record a request (corrected traits for correct); prints its id and deadline
  status <id>                   status and legal deadline of a request
  list [--limit N]              requests, newest first
  verify <id> --send-code       send the requester a one-time code through the verification webhook
  verify <id> --code CODE       check the code the requester gave back
  verify <id> --attest TEXT [--basis account|documents|callback|in_person|other]
                                attest (privacy officers only) how the requester was verified, and what was checked
  acknowledge <id> [--via TEXT] confirm receipt to the person (CCPA: within 10 business days): sent through the
                                verification webhook, or, with --via, recorded as done by you that way
  extend <id> --reason TEXT [--via TEXT]
                                extend the deadline once (GDPR +2 months, CCPA +45 days) before it passes; the person
                                is told the reason (through the webhook, or by you: --via)
  run <id> [--out FILE]         carry a request out once its requester is verified (opt_out needs no verification;
                                an access export is printed, or written to FILE)

  --purpose NAME      X-Tessera-Purpose (default privacy_request; an admin token bound to administration: administration)
  --json              print the API's answer as JSON
  --token TOKEN       the admin API token (default TESSERA_ADMIN_TOKEN or <dataDir>/credentials.json)
  --url URL           the Tessera server (default http://127.0.0.1:$TESSERA_PORT, 3000)
  --data-dir DIR      where credentials.json is (default $TESSERA_DATA_DIR or ./data)`

interface RequestView {
  id: string; type: string; status: string; jurisdiction: string; regime: string; receivedAt: string; dueAt: string; daysLeft: number; overdue: boolean
  result: Record<string, unknown> | null
  acknowledgeBy?: string | null; acknowledgement?: { at: string; via: string; late: boolean } | null; acknowledgementOverdue?: boolean
  extension?: { at: string; firstDueAt: string } | null
  verification?: { status: string; method: string | null; codeExpiresAt: string | null; attemptsLeft: number | null; codesLeft: number }
}

function line(r: RequestView): string {
  const due = r.status === 'completed' ? `due ${r.dueAt}` : `due ${r.dueAt} (${r.overdue ? 'OVERDUE' : `${r.daysLeft} days left`})`
  const extended = r.extension ? ` extended from ${r.extension.firstDueAt}` : ''
  const ack = r.acknowledgement ? `  acknowledged ${r.acknowledgement.at}${r.acknowledgement.late ? ' (LATE)' : ''}`
    : r.acknowledgeBy ? `  acknowledge by ${r.acknowledgeBy}${r.acknowledgementOverdue ? ' (OVERDUE)' : ''}` : ''
  const v = r.verification
  const verified = v === undefined ? '' : `  verification ${v.status}${v.method ? ` (${v.method})` : ''}${v.status === 'code_sent' ? ` until ${v.codeExpiresAt}, ${v.attemptsLeft} attempts left` : ''}`
  return `${r.id}  ${r.type.padEnd(8)} ${r.status.padEnd(10)} ${r.regime} ${r.jurisdiction}  received ${r.receivedAt}  ${due}${extended}${ack}${verified}`
}

export async function runDsar(argv: readonly string[], fetchImpl: typeof fetch = fetch): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv], allowPositionals: true,
    options: {
      type: { type: 'string' }, identifier: { type: 'string' }, jurisdiction: { type: 'string' }, traits: { type: 'string' },
      limit: { type: 'string' }, out: { type: 'string' }, purpose: { type: 'string' }, json: { type: 'boolean' }, token: { type: 'string' },
      'send-code': { type: 'boolean' }, code: { type: 'string' }, attest: { type: 'string' }, basis: { type: 'string' },
      via: { type: 'string' }, reason: { type: 'string' },
      url: { type: 'string' }, 'data-dir': { type: 'string' }, help: { type: 'boolean' },
    },
  })
  if (values.help) {
    console.log(HELP)
    return 0
  }
  const [command, id] = positionals
  const fail = (message: string): number => {
    console.error(`tessera dsar: ${message}`)
    return 1
  }
  let request: { method: string; path: string; body?: unknown }
  switch (command) {
    case 'create': {
      if (!values.type || !values.identifier || !values.jurisdiction) return fail(`create needs --type, --identifier and --jurisdiction\n\n${HELP}`)
      let traits: unknown
      if (values.traits !== undefined) {
        try {
          traits = JSON.parse(values.traits)
        } catch {
          return fail('--traits must be a JSON object, e.g. \'{"email":"new@example.com"}\'')
        }
      }
      request = { method: 'POST', path: '/v1/privacy/requests', body: { type: values.type, identifier: values.identifier, jurisdiction: values.jurisdiction, ...(traits === undefined ? {} : { traits }) } }
      break
    }
    case 'status':
    case 'run':
      if (id === undefined) return fail(`${command} needs a request id`)
      request = command === 'status' ? { method: 'GET', path: `/v1/privacy/requests/${encodeURIComponent(id)}` } : { method: 'POST', path: `/v1/privacy/requests/${encodeURIComponent(id)}/run` }
      break
    case 'list':
      request = { method: 'GET', path: `/v1/privacy/requests?limit=${encodeURIComponent(values.limit ?? '100')}` }
      break
    case 'acknowledge':
      if (id === undefined) return fail('acknowledge needs a request id')
      request = { method: 'POST', path: `/v1/privacy/requests/${encodeURIComponent(id)}/acknowledge`, body: values.via === undefined ? {} : { via: values.via } }
      break
    case 'extend':
      if (id === undefined || values.reason === undefined) return fail(`extend needs a request id and --reason TEXT (the person is told it)\n\n${HELP}`)
      request = {
        method: 'POST', path: `/v1/privacy/requests/${encodeURIComponent(id)}/extend`,
        body: { reason: values.reason, ...(values.via === undefined ? {} : { via: values.via }) },
      }
      break
    case 'verify': {
      if (id === undefined) return fail('verify needs a request id')
      const chosen = [values['send-code'] === true, values.code !== undefined, values.attest !== undefined].filter(Boolean).length
      if (chosen !== 1) return fail(`verify needs exactly one of --send-code, --code CODE or --attest TEXT\n\n${HELP}`)
      const base = `/v1/privacy/requests/${encodeURIComponent(id)}/verification`
      request = values['send-code'] === true ? { method: 'POST', path: `${base}/code` }
        : values.code !== undefined ? { method: 'POST', path: `${base}/confirm`, body: { code: values.code } }
          : { method: 'POST', path: `${base}/attest`, body: { basis: values.basis ?? 'other', evidence: values.attest } }
      break
    }
    default:
      return fail(`unknown command ${JSON.stringify(command ?? '')}\n\n${HELP}`)
  }
  const resolved = resolveConnection({ ...(values.url ? { url: values.url } : {}), ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}) })
  if (!resolved.ok) return fail(resolved.message)
  const token = values.token ?? adminToken(resolved.settings)
  if (token === null) return fail(`no admin token. ${missingCredentialsHint(resolved.settings)}`)
  let response: Response
  try {
    response = await fetchImpl(`${resolved.settings.url}${request.path}`, {
      method: request.method,
      headers: {
        authorization: `Bearer ${token}`, 'x-tessera-purpose': values.purpose ?? 'privacy_request',
        ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
    })
  } catch (error) {
    return fail(`cannot reach Tessera at ${resolved.settings.url} (${(error as Error).message}); is \`tessera up\` running?`)
  }
  const text = await response.text()
  if (!response.ok) {
    let message = text
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text
    } catch {
      // not JSON: print the body as it came
    }
    return fail(`${response.status} ${message}`)
  }
  const answer = JSON.parse(text) as Record<string, unknown>
  if (command === 'run' && values.out !== undefined && answer.export !== undefined) {
    writeFileSync(values.out, `${JSON.stringify(answer.export, null, 2)}\n`, { mode: 0o600 })
  }
  if (values.json) {
    console.log(JSON.stringify(answer, null, 2))
    return 0
  }
  if (command === 'list') for (const r of (answer as { requests: RequestView[] }).requests) console.log(line(r))
  else if (command === 'run') {
    const r = (answer as { request: RequestView }).request
    console.log(line(r))
    console.log(`  result: ${JSON.stringify(r.result)}`)
    if (answer.notice !== undefined) console.log(`  note: ${String(answer.notice)}`)
    if (answer.export !== undefined) console.log(values.out !== undefined ? `  export written to ${values.out}` : JSON.stringify(answer.export, null, 2))
  } else console.log(line(answer as unknown as RequestView))
  return 0
}
