/**
 * @module The identity audit relay: every merge, probabilistic auto-merge edge and quarantine the identity graph
 * records reaches the tamper-evident audit log exactly once, as `identity.merge`, `identity.match` and
 * `identity.quarantine` entries (actor `system:pipeline`, or `system:review` for the merge a review accept made),
 * naming the profiles as subjects and identifiers only by their type.
 *
 * Why exactly once (the two stores are separate databases, so no transaction spans them):
 *
 * 1. Nothing is lost. A trigger queues an outbox row in the transaction that writes the merge (edge, quarantine)
 *    row (state migration 5), so the change and its outbox row commit together. A row leaves the outbox only in
 *    {@link IdentityAuditOutbox.drain} after the audit append that holds its entry resolved, i.e. committed. A
 *    crash anywhere before that removal leaves the row queued, and the next drain (this process after a restart,
 *    or another one) hands it out again. There is no cursor to skip past anything: on PostgreSQL a transaction
 *    whose lower seq commits after a higher one was relayed simply shows its outbox row to a later drain.
 * 2. Nothing is recorded twice. Each entry is appended with a key derived from what it reports (merge: winner,
 *    loser and event; match: the event; quarantine: the identifier and event), through
 *    {@link AuditLog.recordOnce}: a compare-and-append that, under the audit store's append lock (the lock every
 *    append takes, so sequence numbers have no gaps), skips a key already stored. A row handed out twice (crash
 *    between the append and the removal, two relays on PostgreSQL if the lease were lost) finds its key present.
 * 3. The lease (PostgreSQL: `pg_try_advisory_xact_lock`, held for one drain) keeps several pipeline workers from
 *    doing that work twice; correctness does not depend on it (2. does), only the wasted appends do.
 *
 * Replay (`tessera replay`) clears the derived state, outbox included, and the merges re-happen from the log: the
 * keys depend on the merge, not on state sequence numbers, so a merge already audited is not recorded again; one
 * that did not happen before (or happens differently) is. `identity.replay` entries mark the start and the end.
 * The keys sit beside the entries (`audit_sources`), not in their text: the Merkle leaves never hold them.
 */
import { createHash } from 'node:crypto'
import type { AuditEntryInput } from '../governance/audit-entry.js'
import type { KeyedAuditEntry } from '../governance/audit-log.js'
import { weightOfProbability } from '../matching/score.js'
import type { IdentityAuditOutbox, IdentityAuditRow } from './identity-audit-outbox.js'
import { splitIdentifierKey } from './identity-store.js'

/** The part of the audit log the relay needs. */
export interface KeyedAuditSink {
  recordOnce(entries: readonly KeyedAuditEntry[]): Promise<(number | null)[]>
}

/** Rows per drain (and per audit append). */
export const RELAY_BATCH = 500

export interface RelayRound {
  /** False when another process held the relay lease. */
  readonly leased: boolean
  /** Outbox rows drained. */
  readonly rows: number
  /** Entries appended now. */
  readonly recorded: number
  /** Entries whose key was in the audit log already (a redrained row, or a merge re-made by a replay). */
  readonly alreadyAudited: number
}

const digest = (...parts: readonly string[]): string => createHash('sha256').update(parts.join('\u0000')).digest('base64url')

const REVIEW_MESSAGE = /^review:(\d+)$/

/** The merge a review accept made: its message id is `review:<seq>` and its edge's source the deciding token. */
function reviewSeqOf(row: IdentityAuditRow): number | null {
  const m = REVIEW_MESSAGE.exec(row.messageId)
  return m ? Number(m[1]) : null
}

const iso = (ms: number): string => new Date(ms).toISOString()

/**
 * The audit entry of an outbox row, with its key; null for a row the audit log holds otherwise (the scored edge of
 * a review accept: the `identity.review` entry of the person who accepted records it, with its probability).
 */
export function identityAuditEntry(row: IdentityAuditRow): KeyedAuditEntry | null {
  const typeOf = (key: string | null): string | null => (key === null ? null : splitIdentifierKey(key).type)
  const subjects = [row.profileA, row.profileB].filter((p): p is string => p !== null)
  switch (row.kind) {
    case 'merge': {
      const reviewSeq = reviewSeqOf(row)
      const input: AuditEntryInput = {
        kind: 'identity.merge', actor: { type: 'system', id: reviewSeq === null ? 'pipeline' : 'review' },
        action: reviewSeq === null ? 'pipeline: merge profiles' : 'review accept: merge profiles', subjects, decision: 'ok',
        detail: {
          winner: row.profileA, loser: row.profileB, cause: row.rule, messageId: row.messageId, eventTime: iso(row.eventTime),
          mergeSeq: row.sourceSeq, ...(reviewSeq === null ? {} : { reviewSeq }),
        },
      }
      return { input, key: `identity.merge:${digest(row.profileA ?? '', row.profileB ?? '', row.messageId)}` }
    }
    case 'match': {
      if (reviewSeqOf(row) !== null && row.sourceId?.startsWith('token:') === true) return null
      const probability = row.score ?? 0
      const input: AuditEntryInput = {
        kind: 'identity.match', actor: { type: 'system', id: 'pipeline' }, action: 'pipeline: probabilistic auto-merge', subjects, decision: 'ok',
        detail: {
          profileId: row.profileA, probability, weight: Number(weightOfProbability(probability).toFixed(6)),
          identifierTypes: [typeOf(row.keyA), typeOf(row.keyB)], messageId: row.messageId, sourceId: row.sourceId,
          eventTime: iso(row.eventTime), edgeSeq: row.sourceSeq,
        },
      }
      return { input, key: `identity.match:${digest(row.sourceId ?? '', row.messageId)}` }
    }
    case 'quarantine': {
      const input: AuditEntryInput = {
        kind: 'identity.quarantine', actor: { type: 'system', id: 'pipeline' }, action: 'pipeline: supernode guard', subjects, decision: 'ok',
        reason: `the identifier linked ${row.profiles ?? '?'} profiles within ${row.windowMs ?? '?'} ms (threshold ${row.threshold ?? '?'})`,
        detail: {
          identifierType: typeOf(row.keyA), profileId: row.profileA, profiles: row.profiles, threshold: row.threshold, windowMs: row.windowMs,
          cause: row.cause, messageId: row.messageId, eventTime: iso(row.eventTime), quarantineSeq: row.sourceSeq,
        },
      }
      return { input, key: `identity.quarantine:${digest(row.keyA ?? '', row.messageId)}` }
    }
  }
}

/** One drain: at most `limit` rows into the audit log, exactly once (see the module comment). */
export async function relayIdentityAudit(outbox: IdentityAuditOutbox, audit: KeyedAuditSink, limit = RELAY_BATCH): Promise<RelayRound> {
  let recorded = 0
  let alreadyAudited = 0
  const rows = await outbox.drain(limit, async (batch) => {
    recorded = 0
    alreadyAudited = 0
    const entries = batch.map(identityAuditEntry).filter((e): e is KeyedAuditEntry => e !== null)
    if (entries.length === 0) return
    const seqs = await audit.recordOnce(entries)
    recorded = seqs.filter((s) => s !== null).length
    alreadyAudited = seqs.length - recorded
  })
  return rows === null ? { leased: false, rows: 0, recorded: 0, alreadyAudited: 0 } : { leased: true, rows, recorded, alreadyAudited }
}

export interface RelayTotals {
  rows: number
  recorded: number
  alreadyAudited: number
}

/** Drains until the outbox is empty (or another process holds the lease); returns what it relayed. */
export async function relayAll(outbox: IdentityAuditOutbox, audit: KeyedAuditSink, limit = RELAY_BATCH): Promise<RelayTotals & { leased: boolean }> {
  const totals = { rows: 0, recorded: 0, alreadyAudited: 0 }
  for (;;) {
    const round = await relayIdentityAudit(outbox, audit, limit)
    totals.rows += round.rows
    totals.recorded += round.recorded
    totals.alreadyAudited += round.alreadyAudited
    if (!round.leased) return { ...totals, leased: false }
    if (round.rows < limit) return { ...totals, leased: true }
  }
}

export interface IdentityAuditRelayOptions {
  readonly outbox: IdentityAuditOutbox
  readonly audit: KeyedAuditSink
  /** Pause between drains once the outbox is empty (ms). */
  readonly intervalMs: number
  readonly batch?: number
  readonly onRound?: (totals: RelayTotals) => void
  /** A failed drain (the rows stay queued and are tried again after the interval). */
  readonly onError: (error: Error) => void
}

export interface IdentityAuditRelay {
  /** What this relay has done since it started. */
  totals(): Readonly<RelayTotals>
  /** Runs a drain now (after the one in flight) and resolves when the outbox was empty or leased elsewhere. */
  flush(): Promise<void>
  /** Stops the loop after the drain in flight, with a last drain of what is queued; does not close the outbox. */
  stop(): Promise<void>
}

/** Starts the relay loop: drain everything queued, wait `intervalMs`, again. */
export function startIdentityAuditRelay(options: IdentityAuditRelayOptions): IdentityAuditRelay {
  const totals: RelayTotals = { rows: 0, recorded: 0, alreadyAudited: 0 }
  let running: Promise<void> = Promise.resolve()
  let timer: NodeJS.Timeout | undefined
  let stopped = false
  const round = (): Promise<void> => {
    running = running.then(async () => {
      try {
        const done = await relayAll(options.outbox, options.audit, options.batch ?? RELAY_BATCH)
        totals.rows += done.rows
        totals.recorded += done.recorded
        totals.alreadyAudited += done.alreadyAudited
        if (done.rows > 0) options.onRound?.(done)
      } catch (error) {
        options.onError(error as Error)
      }
    })
    return running
  }
  const tick = (): void => {
    timer = setTimeout(() => {
      void round().then(() => {
        if (!stopped) tick()
      })
    }, options.intervalMs)
    timer.unref()
  }
  tick()
  return {
    totals: () => ({ ...totals }),
    flush: () => round(),
    async stop() {
      if (stopped) return
      stopped = true
      clearTimeout(timer)
      await round()
    },
  }
}
