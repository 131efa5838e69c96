/**
 * @module A quick "is anything answering there?" before a long send, so that a stopped server is reported in
 * seconds rather than after the tracking client's retries.
 */
import { describeFetchFailure } from './client-error.js'
import { endpointUrl, type FetchLike } from './tracking-client.js'

export type ProbeResult = { readonly ok: true; readonly status: number } | { readonly ok: false; readonly reason: string }

/**
 * `GET <url>/healthz`. Any HTTP answer counts as reachable (the status is returned; a proxy in front may answer
 * differently); only a network failure or timeout does not.
 */
export async function probeServer(url: string, options: { readonly fetch?: FetchLike; readonly timeoutMs?: number } = {}): Promise<ProbeResult> {
  const doFetch = options.fetch ?? ((u, init) => fetch(u, init))
  try {
    const response = await doFetch(endpointUrl(url, '/healthz'), { method: 'GET', signal: AbortSignal.timeout(options.timeoutMs ?? 3_000) })
    await response.arrayBuffer()
    return { ok: true, status: response.status }
  } catch (error) {
    return { ok: false, reason: describeFetchFailure(error) }
  }
}
