/** @module User-agent parsing with ua-parser-js, behind a small LRU cache (a few distinct agents cover most traffic). */
import { UAParser } from 'ua-parser-js'
import type { Enrichment } from '../../core/event.js'

type ParsedAgent = NonNullable<Enrichment['userAgent']>

export function createUserAgentParser(cacheSize = 2000): (ua: string) => ParsedAgent {
  const cache = new Map<string, ParsedAgent>()
  return function parseUserAgent(ua: string): ParsedAgent {
    const hit = cache.get(ua)
    if (hit) {
      cache.delete(ua)
      cache.set(ua, hit)
      return hit
    }
    const r = new UAParser(ua).getResult()
    const parsed: ParsedAgent = Object.freeze({
      browser: compact({ name: r.browser.name, version: r.browser.version }),
      os: compact({ name: r.os.name, version: r.os.version }),
      // ua-parser-js leaves device.type empty for desktop browsers.
      device: compact({ type: r.device.type ?? (r.browser.name ? 'desktop' : undefined), vendor: r.device.vendor, model: r.device.model }),
    })
    cache.set(ua, parsed)
    if (cache.size > cacheSize) cache.delete(cache.keys().next().value as string)
    return parsed
  }
}

function compact<T extends Record<string, string | undefined>>(o: T): { [K in keyof T]?: string } {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== '') out[k] = v
  return out as { [K in keyof T]?: string }
}
