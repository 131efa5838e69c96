/**
 * @module The workload advisor's admin API (bearer token; Cedar actions on System "workload": `ingestWorkload`,
 * `recommendWorkload`, `readWorkload`, granted to admin and data_engineer): ingest an event log (any codec, as
 * the request body), a runs table (text/csv) or a History Server (JSON `{ historyServer }`); recommend a
 * configuration for a job; read a recommendation with its observed outcomes, the run history and the accuracy
 * over time; evaluate a runs table offline. Every call is decided by the policy engine and written to the audit
 * log (no personal data is read: the detail holds counts and job names).
 */
import type { FastifyPluginAsync } from 'fastify'
import type { JsonObject } from '../core/event.js'
import { TesseraError, ValidationError } from '../core/errors.js'
import type { AccessControl } from '../governance/access-control.js'
import type { AuditLog } from '../governance/audit-log.js'
import { parseDuration } from '../workload/advisor/advisor.js'
import { evaluate, PROTOCOLS, type Protocol, type Sla } from '../workload/eval/evaluate.js'
import { readHistoryServer, type FetchJson } from '../workload/eventlog/history-server.js'
import { parseEventLogBytes } from '../workload/eventlog/read-eventlog.js'
import { fromC3o, fromDataproc, fromScout } from '../workload/runs/converters.js'
import { parseRunsTable, type RunsTable, type RowProblem } from '../workload/runs/runs-table.js'
import type { WorkloadService } from '../workload/workload-service.js'
import type { AdminPrincipal } from './admin-auth.js'
import { purposeHeaderSchema } from './admin-plugin.js'
import { errorBodySchema } from './error-handler.js'
import { auditedAction } from './privacy-plugin.js'

export interface WorkloadPluginOptions {
  readonly authenticate: (header: string | undefined) => AdminPrincipal
  readonly access: AccessControl
  readonly audit: AuditLog
  readonly service: WorkloadService
  readonly maxUploadBytes: number
  /** How the server reads a History Server (global fetch with a timeout in production). */
  readonly fetchJson: FetchJson
}

const errors = { 400: errorBodySchema, 401: errorBodySchema, 403: errorBodySchema, 404: errorBodySchema, 413: errorBodySchema }
const LOG_TYPES = ['application/octet-stream', 'application/x-ndjson', 'application/zstd', 'application/gzip', 'text/plain']
const anyObject = { type: 'object', additionalProperties: true } as const

const ingestReportSchema = {
  type: 'object',
  properties: {
    applications: { type: 'integer' }, added: { type: 'integer' }, duplicates: { type: 'integer' },
    skipped: { type: 'array', items: anyObject }, problems: { type: 'array', items: anyObject }, outcomes: { type: 'array', items: anyObject },
  },
} as const

function tableOf(text: string, format: string): { table: RunsTable; problems: RowProblem[] } {
  switch (format) {
    case 'runs': return parseRunsTable(text, 'body')
    case 'scout': return fromScout(text)
    case 'c3o': return fromC3o(text, 'upload.tsv')
    case 'dataproc': return fromDataproc(text)
    default: throw new ValidationError('.querystring.format', 'must be runs, scout, c3o or dataproc')
  }
}

export const workloadPlugin: FastifyPluginAsync<WorkloadPluginOptions> = async (app, opts) => {
  const { access, audit, service } = opts
  app.addHook('onRequest', async (request) => {
    request.admin = opts.authenticate(request.headers.authorization)
  })
  // Event logs arrive as raw bytes in any codec (detected from the content); runs tables as CSV text.
  app.removeContentTypeParser('text/plain')
  app.addContentTypeParser(LOG_TYPES, { parseAs: 'buffer', bodyLimit: opts.maxUploadBytes }, (_request, body, done) => done(null, body))
  app.addContentTypeParser(['text/csv', 'text/tab-separated-values'], { parseAs: 'string', bodyLimit: opts.maxUploadBytes }, (_request, body, done) => done(null, body))

  app.post<{ Body: Buffer | string | { historyServer?: string; limit?: number }; Querystring: { format?: string; name?: string; instanceType?: string; price?: number; vcpus?: number; memoryGb?: number } }>('/v1/workload/ingest', {
    bodyLimit: opts.maxUploadBytes,
    schema: {
      summary: 'Add runs to the workload history: a Spark event log, a runs table, or a History Server',
      description: 'Body: an event log as bytes (`application/octet-stream`, `application/x-ndjson` or `text/plain`; plain, zstd, lz4, snappy or gzip, ' +
        'detected from the content), a runs table (`text/csv`; `format` = runs, scout, c3o or dataproc), or `application/json` ' +
        '`{ "historyServer": "http://host:18080", "limit": 100 }` to harvest completed applications. Corrupt lines are reported with their line and ' +
        'skipped. A run submitted with a recommendation (`spark.tessera.recommendationId`) records that recommendation\'s outcome. ' +
        'Needs ingestWorkload (admin, data_engineer); audited.',
      tags: ['workload'], security: [{ adminToken: [] }], headers: purposeHeaderSchema,
      querystring: {
        type: 'object', additionalProperties: false,
        properties: {
          format: { type: 'string', enum: ['runs', 'scout', 'c3o', 'dataproc'], default: 'runs' },
          name: { type: 'string', maxLength: 200, description: 'file name of the uploaded log (its suffix names the codec when the content does not)' },
          instanceType: { type: 'string', maxLength: 100 }, price: { type: 'number', minimum: 0 }, vcpus: { type: 'number', minimum: 1 }, memoryGb: { type: 'number', minimum: 0 },
        },
      },
      response: { 200: ingestReportSchema, ...errors },
    },
  }, (request, reply) => auditedAction(access, audit, request, reply, 'workload.ingest', async (scope, detail) => {
    scope.requireSystem('ingestWorkload', 'workload')
    const q = request.query
    const nodeOptions = {
      ...(q.instanceType ? { instanceType: q.instanceType } : {}), ...(q.instanceType && q.price !== undefined ? { prices: { [q.instanceType]: q.price } } : {}),
      ...(q.vcpus !== undefined ? { vcpusPerNode: q.vcpus } : {}), ...(q.memoryGb !== undefined ? { memoryGbPerNode: q.memoryGb } : {}),
    }
    const body = request.body
    let report
    if (Buffer.isBuffer(body)) {
      if (body.length === 0) throw new ValidationError('body', 'is empty: send the event log file as the request body')
      const appRead = await parseEventLogBytes(body, q.name ?? 'upload')
      report = await service.ingestApps([{ source: q.name ?? 'upload', app: appRead }], 'eventlog', nodeOptions)
    } else if (typeof body === 'string') {
      const { table, problems } = tableOf(body, q.format ?? 'runs')
      report = await service.ingestTable(table, problems, `upload:${q.format ?? 'runs'}`)
    } else if (body && typeof body === 'object' && typeof body.historyServer === 'string') {
      const limit = typeof body.limit === 'number' && body.limit > 0 ? Math.floor(body.limit) : undefined
      report = await service.ingestApps(await readHistoryServer(body.historyServer, opts.fetchJson, limit ? { limit } : {}), 'history-server', nodeOptions)
    } else {
      throw new ValidationError('body', 'send an event log (application/octet-stream), a runs table (text/csv), or {"historyServer": "http://host:18080"}')
    }
    detail.added = report.added
    detail.duplicates = report.duplicates
    detail.problems = report.problems.length
    return report
  }))

  app.post<{ Body: { job: string; inputGb?: number; deadline: string | number; features?: Record<string, string>; maxFailureRisk?: number } }>('/v1/workload/recommend', {
    schema: {
      summary: 'Recommend the cheapest configuration whose P90 runtime meets the deadline',
      description: 'Predicts every instance type × node count of the history (P50/P90 runtime, failure risk, memory, CPU) and picks the lowest expected cost ' +
        'with P90 <= deadline and failure risk <= maxFailureRisk (workload.maxFailureRisk). Returns the top alternatives, executor layout, spark-submit ' +
        'flags and EMR/Dataproc/Databricks specs; for a job with thin history, a plan of trial runs and their predicted cost. Stored with its prediction ' +
        'for the feedback loop. Needs recommendWorkload (admin, data_engineer); audited.',
      tags: ['workload'], security: [{ adminToken: [] }], headers: purposeHeaderSchema,
      body: {
        type: 'object', required: ['job', 'deadline'], additionalProperties: false,
        properties: {
          job: { type: 'string', minLength: 1, maxLength: 200 }, inputGb: { type: 'number', minimum: 0 },
          deadline: { anyOf: [{ type: 'number', exclusiveMinimum: 0 }, { type: 'string', maxLength: 20 }], description: 'seconds, or a duration such as 45m, 2h, 1h30m' },
          features: { type: 'object', additionalProperties: { type: 'string', maxLength: 200 }, maxProperties: 50 },
          maxFailureRisk: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
        },
      },
      response: { 200: anyObject, ...errors },
    },
  }, (request, reply) => auditedAction(access, audit, request, reply, 'workload.recommend', async (scope, detail) => {
    scope.requireSystem('recommendWorkload', 'workload')
    const b = request.body
    const deadlineS = parseDuration(String(b.deadline), '.deadline')
    const advice = await service.recommend({ job: b.job, inputGb: b.inputGb ?? null, deadlineS, features: b.features ?? {}, requestedBy: request.admin!.name },
      b.maxFailureRisk === undefined ? {} : { maxFailureRisk: b.maxFailureRisk })
    detail.job = b.job.slice(0, 200)
    detail.recommendation = String(advice.id)
    return advice
  }))

  app.get<{ Params: { id: string } }>('/v1/workload/recommendations/:id', {
    schema: {
      summary: 'A stored recommendation with its prediction and the observed outcomes of its runs',
      tags: ['workload'], security: [{ adminToken: [] }], headers: purposeHeaderSchema,
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9a-f-]{36}$' } } },
      response: { 200: anyObject, ...errors },
    },
  }, (request, reply) => auditedAction(access, audit, request, reply, 'workload.read', async (scope) => {
    scope.requireSystem('readWorkload', 'workload')
    const found = await service.recommendation(request.params.id)
    if (!found) throw new TesseraError('TESSERA_NOT_FOUND', `no recommendation ${request.params.id}`)
    return { ...found.record, outcomes: found.outcomes } as unknown as JsonObject
  }))

  app.get<{ Querystring: { job?: string; limit: number } }>('/v1/workload/runs', {
    schema: {
      summary: 'The run history the models learn from',
      tags: ['workload'], security: [{ adminToken: [] }], headers: purposeHeaderSchema,
      querystring: { type: 'object', additionalProperties: false, properties: { job: { type: 'string', maxLength: 200 }, limit: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 } } },
      response: { 200: { type: 'object', properties: { runs: { type: 'array', items: anyObject }, total: { type: 'integer' } } }, ...errors },
    },
  }, (request, reply) => auditedAction(access, audit, request, reply, 'workload.read', async (scope) => {
    scope.requireSystem('readWorkload', 'workload')
    const table = await service.table()
    const rows = table.rows.filter((r) => request.query.job === undefined || r.job === request.query.job)
    return { runs: rows.slice(-request.query.limit) as unknown as JsonObject[], total: rows.length }
  }))

  app.get<{ Querystring: { period: 'day' | 'week' } }>('/v1/workload/accuracy', {
    schema: {
      summary: 'Accuracy of past recommendations once their runs arrived (MAPE of P50, P90 coverage, deadlines met), overall and per period',
      tags: ['workload'], security: [{ adminToken: [] }], headers: purposeHeaderSchema,
      querystring: { type: 'object', additionalProperties: false, properties: { period: { type: 'string', enum: ['day', 'week'], default: 'week' } } },
      response: { 200: anyObject, ...errors },
    },
  }, (request, reply) => auditedAction(access, audit, request, reply, 'workload.read', async (scope) => {
    scope.requireSystem('readWorkload', 'workload')
    return service.accuracy(request.query.period)
  }))

  app.post<{ Body: string; Querystring: { protocol: Protocol; sla: string; trials: number; seeds: number; format: string } }>('/v1/workload/eval', {
    bodyLimit: opts.maxUploadBytes,
    schema: {
      summary: 'Evaluate the models and the advisor on a runs table (the same report as tessera workload eval --json)',
      description: 'Body: a runs table (text/csv). Runs in the request (seconds to minutes for thousands of runs). Needs readWorkload; audited.',
      tags: ['workload'], security: [{ adminToken: [] }], headers: purposeHeaderSchema,
      querystring: {
        type: 'object', required: ['protocol'], additionalProperties: false,
        properties: {
          protocol: { type: 'string', enum: [...PROTOCOLS] }, sla: { type: 'string', default: 'median', maxLength: 20 },
          trials: { type: 'integer', minimum: 0, maximum: 30, default: 0 }, seeds: { type: 'integer', minimum: 1, maximum: 20, default: 1 },
          format: { type: 'string', enum: ['runs', 'scout', 'c3o', 'dataproc'], default: 'runs' },
        },
      },
      response: { 200: anyObject, ...errors },
    },
  }, (request, reply) => auditedAction(access, audit, request, reply, 'workload.eval', async (scope, detail) => {
    scope.requireSystem('readWorkload', 'workload')
    if (typeof request.body !== 'string') throw new ValidationError('body', 'send the runs table as text/csv')
    const q = request.query
    const sla: Sla = q.sla === 'median' || q.sla === 'p90' ? q.sla : parseDuration(q.sla, '.querystring.sla')
    const { table, problems } = tableOf(request.body, q.format)
    detail.rows = table.rows.length
    return { ...evaluate(table, { protocol: q.protocol, sla, trials: q.trials, seeds: q.seeds }), row_problems: problems.slice(0, 100) } as unknown as JsonObject
  }))
}
