/** @module UTM campaign parameters from a page URL, in Segment's `context.campaign` shape. */

const UTM: readonly (readonly [string, string])[] = [
  ['utm_campaign', 'name'], ['utm_source', 'source'], ['utm_medium', 'medium'], ['utm_term', 'term'], ['utm_content', 'content'],
]

/** Returns the campaign fields found in the URL's query, or undefined when there are none or the URL is invalid. */
export function campaignFromUrl(url: string): Record<string, string> | undefined {
  const q = url.indexOf('?')
  if (q === -1) return undefined
  let params: URLSearchParams
  try {
    params = new URLSearchParams(url.slice(q + 1).split('#')[0])
  } catch {
    return undefined // not a URL we can read: no campaign, the event itself is fine
  }
  let out: Record<string, string> | undefined
  for (const [param, field] of UTM) {
    const v = params.get(param)
    if (v) (out ??= {})[field] = v
  }
  return out
}
