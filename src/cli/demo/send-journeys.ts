/**
 * @module Sends the demo's events in time order, each through a tracking client of its source's write key (and,
 * for the phone with the fast clock, one whose `sentAt` runs just as fast, so that the server can correct its
 * timestamps), with progress on stderr.
 */
import { isClientError } from '../../client/client-error.js'
import { startProgress, type TextSink } from '../../client/progress-display.js'
import { TrackingClient, type TrackingStats } from '../../client/tracking-client.js'
import { DEMO_SOURCES, type DemoEvent, type DemoSource } from './journeys.js'

export interface SendOptions {
  readonly url: string
  /** Write key per source. */
  readonly writeKeys: Readonly<Record<DemoSource, string>>
  readonly stderr: TextSink
}

export interface RejectionSummary {
  readonly count: number
  /** One of the events rejected with this message, for the report. */
  readonly example: { readonly source: DemoSource; readonly type: string; readonly messageId: string }
}

export interface SendResult {
  readonly sent: number
  readonly rejected: number
  readonly failed: number
  readonly retried: number
  readonly seconds: number
  /** Accepted events per source. */
  readonly bySource: Readonly<Record<DemoSource, number>>
  /** Rejections grouped by message. */
  readonly rejections: ReadonlyMap<string, RejectionSummary>
  /** Set when a client stopped (server gone, key refused); the send is then incomplete. */
  readonly error: Error | null
}

/** Sends every event; never throws for a server fault, which is returned in `error` with the counts so far. */
export async function sendJourneys(events: readonly DemoEvent[], options: SendOptions): Promise<SendResult> {
  const started = Date.now()
  const bySource = Object.fromEntries(DEMO_SOURCES.map((s) => [s, 0])) as Record<DemoSource, number>
  const rejections = new Map<string, RejectionSummary>()
  let done = 0
  const progress = startProgress({ label: 'Sending', total: events.length, unit: 'events', stream: options.stderr })
  const clients = new Map<string, TrackingClient<DemoEvent>>()

  const clientFor = (e: DemoEvent): TrackingClient<DemoEvent> => {
    const id = `${e.source}:${e.clockSkewMs}`
    let client = clients.get(id)
    if (client === undefined) {
      const skew = e.clockSkewMs
      client = new TrackingClient<DemoEvent>({
        url: options.url,
        writeKey: options.writeKeys[e.source],
        clock: { now: () => Date.now() + skew },
        onAccepted: (n) => {
          bySource[e.source] += n
          done += n
          progress.update(done)
        },
        onRejected: (r) => {
          done++
          progress.update(done)
          const previous = rejections.get(r.message)
          const demo = r.ref
          rejections.set(r.message, {
            count: (previous?.count ?? 0) + 1,
            example: previous?.example ?? { source: demo?.source ?? e.source, type: r.event.type, messageId: r.event.messageId ?? '' },
          })
        },
      })
      clients.set(id, client)
    }
    return client
  }

  let error: Error | null = null
  try {
    for (const e of events) await clientFor(e).enqueue(e.event, e)
  } catch (caught) {
    if (!isClientError(caught)) throw caught
    error = caught
  }
  const flushed = await Promise.allSettled([...clients.values()].map((c) => c.flush()))
  progress.stop()
  for (const outcome of flushed) {
    if (outcome.status === 'rejected') {
      if (!isClientError(outcome.reason)) throw outcome.reason
      error ??= outcome.reason
    }
  }
  const totals = [...clients.values()].map((c) => c.stats).reduce<Omit<TrackingStats, 'enqueued' | 'requests'>>(
    (sum, s) => ({ sent: sum.sent + s.sent, rejected: sum.rejected + s.rejected, failed: sum.failed + s.failed, retried: sum.retried + s.retried }),
    { sent: 0, rejected: 0, failed: 0, retried: 0 },
  )
  return { ...totals, seconds: (Date.now() - started) / 1000, bySource, rejections, error }
}
