/**
 * @module A stand-in for Tessera's tracking API on a loopback port, for tests of the clients and the CLI commands
 * that use them: it answers `POST /v1/batch` like the real API documents (200, 400 with per-event problems that
 * reject the whole batch, 401, 413, 429/503 with `Retry-After`) and `GET /healthz`, and records what it
 * accepted. It is a double at the HTTP boundary; the real server is tested end to end elsewhere.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface FakeProblem {
  readonly field: string
  readonly message: string
}

export interface FakeTrackingApiOptions {
  /** Write keys accepted (any other gets 401). */
  readonly writeKeys: readonly string[]
  /**
   * Problems for one event (fields relative to the event, `.userId`), or none if it is valid. Default: Segment's
   * rule that an event needs a `userId` or an `anonymousId`.
   */
  readonly validate?: (event: Record<string, unknown>) => readonly FakeProblem[]
  /** Answers to give before the normal ones, one per request, e.g. `[{ status: 429, retryAfter: '1' }]`. */
  readonly upfront?: readonly { readonly status: number; readonly retryAfter?: string }[]
  /** Whether 400 answers list problems with `.batch[i]` fields (true) or only a batch-level message (false). */
  readonly problemsNameEvents?: boolean
  /** Largest request body accepted (default 500 KB). */
  readonly maxBodyBytes?: number
  /** Milliseconds to hold each answer, to observe concurrency (default 0). */
  readonly delayMs?: number
}

export interface RecordedRequest {
  readonly at: number
  readonly status: number
  readonly events: number
  readonly bytes: number
  /** The batch's `sentAt`, when it had one. */
  readonly sentAt: string | undefined
}

/** A running fake; `close()` when done. */
export interface FakeTrackingApi {
  readonly url: string
  /** Accepted events in arrival order. */
  readonly accepted: Record<string, unknown>[]
  readonly requests: RecordedRequest[]
  /** Most requests the fake was handling at the same time. */
  readonly maxConcurrent: () => number
  close(): Promise<void>
}

/** Segment's rule: every call needs a `userId` or an `anonymousId`. */
export function requireUserOrAnonymousId(event: Record<string, unknown>): FakeProblem[] {
  const has = (v: unknown): boolean => typeof v === 'string' ? v.trim() !== '' : typeof v === 'number'
  return has(event.userId) || has(event.anonymousId) ? [] : [{ field: '.userId', message: 'userId or anonymousId is required' }]
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** Starts the fake on 127.0.0.1 and an ephemeral port. */
export async function startFakeTrackingApi(options: FakeTrackingApiOptions): Promise<FakeTrackingApi> {
  const validate = options.validate ?? requireUserOrAnonymousId
  const upfront = [...(options.upfront ?? [])]
  const maxBody = options.maxBodyBytes ?? 500 * 1024
  const accepted: Record<string, unknown>[] = []
  const requests: RecordedRequest[] = []
  const allowed = new Set(options.writeKeys.map((k) => 'Basic ' + Buffer.from(`${k}:`).toString('base64')))

  let current = 0
  let maxConcurrent = 0
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req)
    const seen: { sentAt?: string } = {}
    const record = (status: number, events = 0): void => {
      requests.push({ at: Date.now(), status, events, bytes: body.length, sentAt: seen.sentAt })
    }
    // Liveness, as the real server answers it; not a tracking request, so not recorded.
    if (req.method === 'GET' && req.url === '/healthz') return send(res, 200, { status: 'ok' })
    if (options.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, options.delayMs))
    if (req.method !== 'POST' || req.url !== '/v1/batch') {
      record(404)
      return send(res, 404, { success: false, code: 'TESSERA_NOT_FOUND', message: 'not found' })
    }
    if (!allowed.has(req.headers.authorization ?? '')) {
      record(401)
      return send(res, 401, { success: false, code: 'TESSERA_UNAUTHORIZED', message: 'unknown write key' })
    }
    const next = upfront.shift()
    if (next) {
      record(next.status)
      return send(res, next.status, { success: false, code: 'TESSERA_BACKPRESSURE', message: 'busy' },
        next.retryAfter === undefined ? {} : { 'retry-after': next.retryAfter })
    }
    if (body.length > maxBody) {
      record(413)
      return send(res, 413, { success: false, code: 'TESSERA_PAYLOAD_TOO_LARGE', message: `batch is larger than ${maxBody} bytes` })
    }
    const parsed = JSON.parse(body.toString('utf8')) as { batch?: Record<string, unknown>[]; sentAt?: string }
    if (parsed.sentAt !== undefined) seen.sentAt = parsed.sentAt
    const batch = parsed.batch ?? []
    const problems = batch.flatMap((event, i) => validate(event).map((p) => ({ field: `.batch[${i}]${p.field}`, message: p.message })))
    if (problems.length > 0) {
      record(400, batch.length)
      const first = problems[0]!
      return send(res, 400, options.problemsNameEvents === false
        ? { success: false, code: 'TESSERA_VALIDATION', message: 'batch contains invalid events' }
        : { success: false, code: 'TESSERA_VALIDATION', message: `${first.field}: ${first.message}`, field: first.field, problems })
    }
    accepted.push(...batch)
    record(200, batch.length)
    send(res, 200, { success: true })
  }

  const server: Server = createServer((req, res) => {
    current++
    maxConcurrent = Math.max(maxConcurrent, current)
    handle(req, res)
      .catch((error: unknown) => {
        // A bug in the fake must fail the test loudly (as a non-retried status), not hang it.
        send(res, 418, { success: false, code: 'FAKE_BUG', message: String(error) })
      })
      .finally(() => {
        current--
      })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    accepted,
    requests,
    maxConcurrent: () => maxConcurrent,
    close: () => new Promise<void>((resolve, reject) => {
      server.closeAllConnections()
      server.close((error) => (error ? reject(error) : resolve()))
    }),
  }
}
