/**
 * @module Prometheus metrics (prom-client), one registry per app so tests and several apps in one
 * process do not collide. The pipeline runs in a worker thread and reports its figures by message;
 * `PipelineGauges` is what the host updates from those reports.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export interface Metrics {
  readonly registry: Registry
  readonly eventsAccepted: Counter<'source' | 'type'>
  readonly eventsRejected: Counter<'reason'>
  readonly requests: Counter<'route' | 'status'>
  readonly appendSeconds: Histogram
  readonly pipelineEvents: Counter<'outcome'>
  readonly pipelineBatchSeconds: Histogram
  readonly pipelineLag: Gauge<'partition'>
  readonly profileMerges: Counter
  readonly stageErrors: Counter<'stage'>
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry()
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'tessera_process_' })
  const registers = [registry]
  return {
    registry,
    eventsAccepted: new Counter({
      name: 'tessera_events_accepted_total', help: 'Events acknowledged by the tracking API (durably in the log)',
      labelNames: ['source', 'type'], registers,
    }),
    eventsRejected: new Counter({
      name: 'tessera_events_rejected_total', help: 'Requests or events refused by the tracking API, by reason',
      labelNames: ['reason'], registers,
    }),
    requests: new Counter({
      name: 'tessera_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['route', 'status'], registers,
    }),
    appendSeconds: new Histogram({
      name: 'tessera_log_append_seconds', help: 'Time to append an ingest request to the event log (durable)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers,
    }),
    pipelineEvents: new Counter({
      name: 'tessera_pipeline_events_total', help: 'Events handled by the pipeline, by outcome (processed, duplicate, lost: removed from the log by retention before the pipeline read them, shredded: the data key of an erased person was destroyed, so the record cannot be read)',
      labelNames: ['outcome'], registers,
    }),
    pipelineBatchSeconds: new Histogram({
      name: 'tessera_pipeline_batch_seconds', help: 'Time to process and commit one pipeline batch',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers,
    }),
    pipelineLag: new Gauge({
      name: 'tessera_pipeline_lag_events', help: 'Events in events.raw not yet processed, per partition',
      labelNames: ['partition'], registers,
    }),
    profileMerges: new Counter({ name: 'tessera_profile_merges_total', help: 'Profiles merged into another', registers }),
    stageErrors: new Counter({
      name: 'tessera_pipeline_stage_errors_total', help: 'Errors caught by attempt-policy stages', labelNames: ['stage'], registers,
    }),
  }
}
