/** @module Open operational endpoints: liveness, readiness and Prometheus metrics (no personal data). */
import type { FastifyInstance } from 'fastify'
import type { EventLog } from '../log/event-log.js'
import type { PipelineHandle } from '../pipeline/pipeline-host.js'
import type { Metrics } from './metrics.js'

export interface HealthOptions {
  readonly log: EventLog
  readonly pipeline: PipelineHandle | null
  readonly metrics: Metrics
  readonly rawTopic: string
}

const READINESS = {
  type: 'object',
  properties: {
    status: { type: 'string' },
    log: { type: 'string' },
    pipeline: { type: 'string' },
    lag: { type: ['integer', 'null'], description: 'events.raw records not processed yet; null while unknown' },
    profileLag: { type: ['integer', 'null'], description: 'events.resolved records the profile owners have not applied yet (partitioned profile updates)' },
    lost: { type: 'integer', description: 'events removed from the log by retention before the pipeline read them, since start' },
  },
} as const

export function registerHealthRoutes(app: FastifyInstance, { log, pipeline, metrics, rawTopic }: HealthOptions): void {
  app.get('/healthz', {
    schema: { summary: 'Liveness: the process answers', tags: ['operations'], response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } },
  }, async () => ({ status: 'ok' }))

  app.get('/readyz', {
    schema: {
      summary: 'Readiness: the event log answers and the pipeline runs',
      tags: ['operations'],
      response: {
        200: READINESS,
        503: READINESS,
      },
    },
  }, async (_request, reply) => {
    let logOk = true
    try {
      await log.endOffsets(rawTopic)
    } catch (error) {
      logOk = false
      app.log.warn({ err: { message: (error as Error).message } }, 'readiness: event log unavailable')
    }
    const status = pipeline?.status()
    // null = unknown: never report an unmeasured lag as zero.
    const sum = (lags: readonly number[] | null | undefined): number | null => (lags ? lags.reduce((a, b) => a + b, 0) : null)
    const lag = sum(status?.lag)
    const ready = logOk && (status === undefined || status.running)
    return reply.status(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not ready', log: logOk ? 'ok' : 'unavailable',
      pipeline: status === undefined ? 'not in this role' : status.running ? 'running' : 'stopped', lag,
      ...(status?.profileLag !== undefined ? { profileLag: sum(status.profileLag) } : {}),
      ...(status ? { lost: status.lost } : {}),
    })
  })

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['operations'], hide: false } }, async (_request, reply) => {
    pipeline?.status().lag?.forEach((lag, partition) => metrics.pipelineLag.set({ partition: String(partition) }, lag))
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
}
