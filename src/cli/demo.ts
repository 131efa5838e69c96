/**
 * @module `tessera demo`: sends generated multi-source customer journeys to a running Tessera (web, mobile, CRM
 * and IoT, each with its source's write key), waits for the pipeline, and shows what identity resolution made
 * of them: unified profiles, edge-case checks, and the admin API calls to look further.
 */
import { isTesseraError } from '../core/errors.js'
import { AdminClient } from '../client/admin-client.js'
import { isClientError } from '../client/client-error.js'
import {
  adminToken, defaultWriteKey, missingCredentialsHint, resolveConnection, sourceWriteKey, type ConnectionSettings,
} from '../client/connection-settings.js'
import type { TextSink } from '../client/progress-display.js'
import { probeServer } from '../client/server-probe.js'
import { awaitProcessing, type ProcessingOutcome } from './demo/await-processing.js'
import { DEMO_USAGE, parseDemoArgs } from './demo/demo-args.js'
import { checkEdgeCases } from './demo/edge-case-checks.js'
import { DEMO_SOURCES, generateJourneys, type DemoDataset, type DemoSource } from './demo/journeys.js'
import { formatProfile } from './demo/profile-view.js'
import { sendJourneys, type SendResult } from './demo/send-journeys.js'

/** Streams and environment of a command; tests pass collectors, the CLI passes the process's own. */
export interface DemoIo {
  readonly stdout: TextSink
  readonly stderr: TextSink
  readonly env: Readonly<Record<string, string | undefined>>
}

const n = (v: number): string => v.toLocaleString('en-US')

/**
 * Runs `tessera demo` with the arguments after the subcommand. Returns the exit code: 0 done, 2 done with
 * problems (rejected events, pipeline not done in time, an edge-case check failed, no admin token), 1 could
 * not run (bad arguments, no credentials, server unreachable).
 */
export async function runDemo(argv: readonly string[], io: DemoIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  const parsed = parseDemoArgs(argv)
  if (parsed.kind === 'help') {
    io.stdout.write(DEMO_USAGE + '\n')
    return 0
  }
  if (parsed.kind === 'error') {
    io.stderr.write(`tessera demo: ${parsed.message}\n\n${DEMO_USAGE}\n`)
    return 1
  }
  const args = parsed.args
  const out = (line = ''): void => {
    io.stdout.write(line + '\n')
  }
  const fail = (message: string): number => {
    io.stderr.write(`tessera demo: ${message}\n`)
    return 1
  }

  let settings: ConnectionSettings
  try {
    const resolved = resolveConnection({ url: args.url, dataDir: args.dataDir, env: io.env })
    if (!resolved.ok) {
      io.stderr.write(`tessera demo: ${resolved.message}\n\n${DEMO_USAGE}\n`)
      return 1
    }
    settings = resolved.settings
  } catch (error) {
    if (isTesseraError(error)) return fail(error.message)
    throw error
  }

  const keys = writeKeys(settings)
  if (!keys.ok) return fail(keys.message)
  const probe = await probeServer(settings.url)
  if (!probe.ok) return fail(`cannot reach Tessera at ${settings.url} (${probe.reason}). Start it with \`tessera up\`, or pass --url.`)

  const token = adminToken(settings)
  let admin = token === null ? null : new AdminClient({ url: settings.url, token })
  let baselineEvents: number | null = null
  const notes: string[] = [...keys.notes]
  if (admin !== null) {
    try {
      baselineEvents = (await admin.stats())?.events ?? null
    } catch (error) {
      if (!isClientError(error)) throw error
      notes.push(`${error.message}: profiles will not be shown. Check TESSERA_ADMIN_TOKEN or --data-dir.`)
      admin = null
    }
  } else {
    notes.push(`no admin token (${settings.credentialsFile} or TESSERA_ADMIN_TOKEN): the events are sent, but profiles cannot be shown.`)
  }

  const data = generateJourneys({ people: args.people, seed: args.seed, now: Date.now() })
  out(`Tessera demo: ${n(args.people)} people, ${n(data.events.length)} events over the last 30 days → ${settings.url}`)
  out(`  seed ${args.seed}${args.randomSeed ? ` (pass --seed ${args.seed} --people ${args.people} to send the same data again; the server drops repeats as duplicates)` : ''}`)
  for (const note of notes) out(`  note: ${note}`)
  out()

  const sendStarted = Date.now()
  const sent = await sendJourneys(data.events, { url: settings.url, writeKeys: keys.keys, stderr: io.stderr })
  printSendSummary(out, sent, data)
  if (sent.error !== null) {
    return fail(`${sent.error.message}\nThe send stopped early. ${isClientError(sent.error) && sent.error.code === 'CLIENT_UNAUTHORIZED'
      ? `Are the write keys in ${settings.credentialsFile} those of the server at ${settings.url}? Pass --data-dir <its data directory>.`
      : `Is Tessera still running at ${settings.url}?`}`)
  }
  let problems = sent.rejected > 0

  if (admin === null) {
    out()
    out('End to end: not measured (the admin API is needed to see when the pipeline is done).')
    return 2
  }

  out()
  out(`Waiting for the pipeline to process them (up to ${args.timeoutSeconds} s)...`)
  const showcase = data.expectations.showcase.map((i) => data.people[i]!)
  let outcome: ProcessingOutcome
  try {
    outcome = await awaitProcessing(admin, {
      watched: showcase.map((p) => ({ type: 'user_id', value: p.userId!, expectedEvents: p.expectedEventCount })),
      baselineEvents,
      expectedEvents: data.expectations.distinctEvents,
      timeoutMs: args.timeoutSeconds * 1000,
    })
  } catch (error) {
    if (!isClientError(error)) throw error
    return fail(`reading profiles failed: ${error.message}`)
  }
  const processedSeconds = (outcome.processedAt - sendStarted) / 1000
  const processed = outcome.processedEvents === null ? '' : ` (${n(outcome.processedEvents)} new events in the profile store)`
  if (outcome.status === 'complete') out(`  done: every event is in its profile, ${processedSeconds.toFixed(1)} s after sending began${processed}.`)
  else if (outcome.status === 'settled') {
    out(`  counts stopped changing ${processedSeconds.toFixed(1)} s after sending began, short of what was sent${processed}:`)
    out('  events already stored (a repeated --seed) are dropped as duplicates, or some were not processed; see `tessera up`\'s log.')
  } else {
    problems = true
    out(`  not done after ${args.timeoutSeconds} s${processed}; showing the profiles as they are (raise --timeout, or check \`tessera up\`'s log).`)
  }

  const picked = outcome.profiles
    .map((profile, i) => ({ profile, person: showcase[i]! }))
    .filter((x) => x.profile !== null)
    .sort((a, b) => sourceCount(b.profile!.sourceCounts) - sourceCount(a.profile!.sourceCounts) || b.profile!.eventCount - a.profile!.eventCount)
    .slice(0, 3)
  out()
  if (picked.length === 0) out('Unified profiles: none of the demo people has a profile yet.')
  else out('Unified profiles: one person each, seen on the website, the app, the CRM and a paired IoT device.')
  for (const { profile, person } of picked) {
    out()
    out(formatProfile(profile!, `${person.name} (${person.userId})`))
  }

  out()
  out('Edge cases:')
  const checks = await checkEdgeCases(admin, data.expectations)
  for (const c of checks) out(`  ${c.status === 'ok' ? '✓' : c.status === 'failed' ? '✗' : '?'} ${c.text}`)
  out(`  · ${n(data.expectations.duplicates)} events were sent twice with the same messageId (retries); each counts once.`)
  out(`  · one phone's clock runs 2 h fast; its events' timestamps are corrected with sentAt.`)
  if (checks.some((c) => c.status === 'failed')) problems = true

  out()
  printCurlCommands(out, settings, picked[0]?.profile?.id ?? null, picked[0]?.person.email ?? null)
  out()
  if (outcome.status === 'timeout') {
    out(`End to end: not measured (the pipeline did not finish within ${args.timeoutSeconds} s)`)
  } else if (outcome.status === 'settled' && outcome.processedEvents === 0) {
    out('End to end: not measured (the server already had these events: use another --seed for a fresh run)')
  } else {
    const seconds = Math.max(0.001, processedSeconds)
    out(`End to end: ${n(sent.sent)} events sent and processed in ${seconds.toFixed(1)} s = ${n(Math.round(sent.sent / seconds))} events/s`)
  }
  return problems ? 2 : 0
}

function sourceCount(counts: Readonly<Record<string, number>>): number {
  return DEMO_SOURCES.filter((s) => (counts[s] ?? 0) > 0).length
}

type KeysResult =
  | { readonly ok: true; readonly keys: Record<DemoSource, string>; readonly notes: string[] }
  | { readonly ok: false; readonly message: string }

/** Each source's write key, falling back (and saying so) to the default source's. */
function writeKeys(settings: ConnectionSettings): KeysResult {
  const fallback = defaultWriteKey(settings)
  const keys = {} as Record<DemoSource, string>
  const missing: DemoSource[] = []
  for (const source of DEMO_SOURCES) {
    const key = sourceWriteKey(settings, source)
    if (key !== null) keys[source] = key.key
    else if (fallback !== null) {
      keys[source] = fallback.key
      missing.push(source)
    } else return { ok: false, message: settings.credentials === null ? missingCredentialsHint(settings) : `${settings.credentialsFile} has no write key for source "${source}" and no default one` }
  }
  const notes = missing.length === 0 ? [] : [
    `no write key for source${missing.length > 1 ? 's' : ''} ${missing.join(', ')} in ${settings.credentialsFile}: ` +
    `sending ${missing.length > 1 ? 'their' : 'its'} events with the default source's key (from ${fallback!.origin}), so they count as source "default".`,
  ]
  return { ok: true, keys, notes }
}

function printSendSummary(out: (line?: string) => void, sent: SendResult, data: DemoDataset): void {
  const rate = sent.seconds > 0 ? Math.round(sent.sent / sent.seconds) : sent.sent
  out(`Sent ${n(sent.sent)} events in ${sent.seconds.toFixed(1)} s (${n(rate)} events/s); rejected ${n(sent.rejected)}, retried requests ${n(sent.retried)}${sent.failed > 0 ? `, not sent ${n(sent.failed)}` : ''}`)
  out(`  by source: ${DEMO_SOURCES.map((s) => `${s} ${n(sent.bySource[s])}`).join(' · ')}`)
  out(`  edge cases: a shared family computer, placeholder ids (email ${JSON.stringify('test@test.com')}, userId "0", all-zero anonymousId),`)
  out(`  ${n(data.expectations.duplicates)} retried messageIds, a phone 2 h fast`)
  if (sent.rejections.size > 0) {
    out('  rejected events:')
    for (const [message, r] of [...sent.rejections].sort((a, b) => b[1].count - a[1].count).slice(0, 5)) {
      out(`    ${n(r.count)} × ${message}  (e.g. ${r.example.source} ${r.example.type} ${r.example.messageId})`)
    }
  }
}

function printCurlCommands(out: (line?: string) => void, settings: ConnectionSettings, profileId: string | null, email: string | null): void {
  const auth = '-H "Authorization: Bearer $TESSERA_ADMIN_TOKEN"'
  out('Look further with the admin API:')
  if (settings.env.TESSERA_ADMIN_TOKEN !== undefined) out('  (TESSERA_ADMIN_TOKEN is set in your environment)')
  else out(`  export TESSERA_ADMIN_TOKEN="$(node -p 'require(process.argv[1]).adminToken' "${settings.credentialsFile}")"`)
  const base = settings.url
  if (email !== null) out(`  curl -s ${auth} "${base}/v1/profiles?identifier=email:${encodeURIComponent(email)}"`)
  if (profileId !== null) {
    const id = encodeURIComponent(profileId)
    out(`  curl -s ${auth} "${base}/v1/profiles/${id}/identities"`)
    out(`  curl -s ${auth} "${base}/v1/profiles/${id}/events?limit=20"`)
  }
  out(`  curl -s ${auth} "${base}/v1/stats"`)
}
