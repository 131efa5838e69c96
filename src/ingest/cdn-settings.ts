/**
 * @module The source settings analytics-next fetches at load (`${cdnURL}/v1/projects/${writeKey}/settings`,
 * `loadCDNSettings` in segmentio/analytics-next packages/browser/src/browser/index.ts), so that pointing the
 * SDK's `cdnURL` at Tessera is enough to send every event here. Only the parts the SDK reads are served.
 */

/** `integrations['Segment.io']`: where the SDK's Segment.io destination plugin sends events. */
export interface SegmentioSettings {
  /** The write key; the SDK copies it into every event body as `writeKey`. */
  readonly apiKey: string
  /** Host and path prefix, no scheme: the SDK posts to `${protocol}://${apiHost}/t` (and `/b` when batching). */
  readonly apiHost: string
  readonly protocol: 'http' | 'https'
  /** Off: the `_metadata.bundled` lists only matter to Segment's destination routing. */
  readonly addBundledMetadata: boolean
  readonly unbundledIntegrations: readonly string[]
  readonly maybeBundledConfigIds: Readonly<Record<string, readonly string[]>>
  /** Keep the SDK's local retry queue on (its default). */
  readonly retryQueue: boolean
}

/** The subset of analytics-next's `CDNSettings` that Tessera serves. */
export interface CdnSettings {
  readonly integrations: { readonly 'Segment.io': SegmentioSettings }
  readonly plan: Readonly<Record<string, never>>
  readonly enabledMiddleware: Readonly<Record<string, boolean>>
  readonly middlewareSettings: Readonly<Record<string, never>>
  /** Sample rate 0: the SDK would otherwise post its own telemetry to api.segment.io. */
  readonly metrics: { readonly sampleRate: number; readonly host: string }
  readonly remotePlugins: readonly never[]
  readonly legacyVideoPluginsEnabled: boolean
}

export interface CdnSettingsInput {
  readonly writeKey: string
  /** This server's host as the browser reached it (`Host` header, with port), e.g. `cdp.example.com:8080`. */
  readonly host: string
  readonly protocol: 'http' | 'https'
}

// A host name, IPv4 or bracketed IPv6 address, with an optional port. Compiled once.
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9.-]{0,251}[a-zA-Z0-9])?|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?$/

/** Whether `host` is safe to hand back as `apiHost` (the `Host` header is client input). */
export function isValidHost(host: string): boolean {
  return HOST.test(host)
}

/** Builds the settings served for a valid write key. */
export function buildCdnSettings(input: CdnSettingsInput): CdnSettings {
  const apiHost = `${input.host}/v1`
  return {
    integrations: {
      'Segment.io': {
        apiKey: input.writeKey,
        apiHost,
        protocol: input.protocol,
        addBundledMetadata: false,
        unbundledIntegrations: [],
        maybeBundledConfigIds: {},
        retryQueue: true,
      },
    },
    plan: {},
    enabledMiddleware: {},
    middlewareSettings: {},
    metrics: { sampleRate: 0, host: apiHost },
    remotePlugins: [],
    legacyVideoPluginsEnabled: false,
  }
}
