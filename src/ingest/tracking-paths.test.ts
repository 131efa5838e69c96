import { describe, expect, it } from 'vitest'
import { TRACKING_ENDPOINTS } from './tracking-paths.js'

describe('TRACKING_ENDPOINTS', () => {
  it('serves the Segment paths, the analytics-next short paths and the batch paths, each once', () => {
    const paths = TRACKING_ENDPOINTS.map((e) => e.path)
    expect(new Set(paths).size).toBe(paths.length)
    expect(paths).toEqual(expect.arrayContaining([
      '/v1/identify', '/v1/track', '/v1/page', '/v1/screen', '/v1/group', '/v1/alias',
      '/v1/i', '/v1/t', '/v1/p', '/v1/s', '/v1/g', '/v1/a',
      '/v1/batch', '/v1/import', '/v1/b', '/beacon/v1/batch',
    ]))
  })

  it('maps each short path to its type and allows a query write key on the beacon path only', () => {
    const byPath = new Map(TRACKING_ENDPOINTS.map((e) => [e.path, e]))
    expect(byPath.get('/v1/s')).toMatchObject({ kind: 'event', type: 'screen' })
    expect(byPath.get('/v1/a')).toMatchObject({ kind: 'event', type: 'alias' })
    expect(TRACKING_ENDPOINTS.filter((e) => e.writeKeyInQuery).map((e) => e.path)).toEqual(['/beacon/v1/batch'])
  })
})
