/** @module Enrich stage: user agent, UTM campaign and session. An `attempt` stage: a failure never loses an event. */
import type { JsonObject } from '../../core/event.js'
import { campaignFromUrl } from '../enrich/campaign.js'
import { assignSession, clearSessionKey, type SessionKeyOf } from '../enrich/sessions.js'
import { createUserAgentParser } from '../enrich/user-agent.js'
import { live, type BatchContext, type Stage } from '../stage.js'

export interface EnrichOptions {
  readonly sessionTimeoutMs: number
  /** How sessions are keyed (src/pipeline/enrich/sessions.ts `sessionKeyFor`): clear ids when absent. */
  readonly sessionKey?: SessionKeyOf
}

function str(o: JsonObject | undefined, key: string): string | undefined {
  const v = o?.[key]
  return typeof v === 'string' ? v : undefined
}

function obj(o: JsonObject | undefined, key: string): JsonObject | undefined {
  const v = o?.[key]
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined
}

export function createEnrichStage(options: EnrichOptions): Stage {
  const parseUserAgent = createUserAgentParser()
  const sessionKeyOf = options.sessionKey ?? clearSessionKey
  return {
    name: 'enrich',
    policy: 'attempt',
    async run(batch: BatchContext): Promise<void> {
      const items = live(batch.items)
      const keys = items.map((item) => sessionKeyOf(item.event))
      const sessionKeys = new Set<string>()
      for (const key of keys) if (key !== undefined) sessionKeys.add(key)
      const sessions = await batch.tx.sessions.get([...sessionKeys])
      items.forEach((item, n) => {
        const { event } = item
        const context = event.context
        const ua = str(context, 'userAgent')
        const url = str(obj(context, 'page'), 'url') ?? (event.type === 'page' ? str(event.properties, 'url') : undefined)
        const campaign = obj(context, 'campaign') === undefined && url ? campaignFromUrl(url) : undefined
        const clientSession = context?.sessionId
        const key = keys[n]
        let sessionId: string | undefined
        let sessionStart: boolean | undefined
        if (typeof clientSession === 'string' || typeof clientSession === 'number') {
          sessionId = String(clientSession)
          sessionStart = context?.sessionStart === true
        } else if (key) {
          const s = assignSession(sessions, key, item.time, options.sessionTimeoutMs, `${event.sourceId}:${event.messageId}`)
          sessionId = s.sessionId
          sessionStart = s.started
        }
        item.enrichment = {
          ...(ua ? { userAgent: parseUserAgent(ua) } : {}),
          ...(campaign ? { campaign } : {}),
          ...(sessionId === undefined ? {} : { sessionId, sessionStart: sessionStart ?? false }),
        }
      })
      await batch.tx.sessions.put(sessions)
    },
  }
}
