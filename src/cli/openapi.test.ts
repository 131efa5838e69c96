import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { openApiDocument } from './openapi.js'

describe('docs/openapi.json', () => {
  it('matches the document generated from the route schemas (run `npm run openapi` after changing a route)', async () => {
    const committed = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8')) as { info: { version: string } }
    const generated = (await openApiDocument()) as { info: { version: string }; paths: Record<string, unknown> }
    expect(Object.keys(generated.paths)).toEqual(expect.arrayContaining(['/v1/batch', '/v1/identify', '/v1/t', '/v1/profiles/{id}/events']))
    expect(JSON.parse(JSON.stringify(generated))).toEqual(committed)
  }, 30_000)
})
