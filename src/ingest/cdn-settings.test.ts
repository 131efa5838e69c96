import { describe, expect, it } from 'vitest'
import { buildCdnSettings, isValidHost } from './cdn-settings.js'

describe('buildCdnSettings', () => {
  it('points analytics-next\'s Segment.io destination at this server and turns its telemetry off', () => {
    const settings = buildCdnSettings({ writeKey: 'wk_web_1234', host: 'cdp.example.com', protocol: 'https' })
    expect(settings.integrations['Segment.io']).toMatchObject({ apiKey: 'wk_web_1234', apiHost: 'cdp.example.com/v1', protocol: 'https' })
    expect(settings.metrics).toEqual({ sampleRate: 0, host: 'cdp.example.com/v1' })
  })
})

describe('isValidHost', () => {
  it.each(['cdp.example.com', 'localhost:3000', '10.0.0.7:8080', '[::1]:3000', 'a'])('accepts %s', (host) => {
    expect(isValidHost(host)).toBe(true)
  })

  it.each(['', 'evil.com/path', 'a b', 'host:port', '"quoted"', 'x.example.com:123456'])('refuses %j', (host) => {
    expect(isValidHost(host)).toBe(false)
  })
})
