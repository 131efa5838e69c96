import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiBase, httpFetchJson, readHistoryServer } from './history-server.js'
import { readEventLogs } from './read-eventlog.js'

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/workload')
const files: Record<string, string> = {
  '/api/v1/applications?status=completed': 'applications.json',
  '/api/v1/applications/local-1422981780767/jobs': 'local-1422981780767.jobs.json',
  '/api/v1/applications/local-1422981780767/executors': 'local-1422981780767.executors.json',
  '/api/v1/applications/local-1422981780767/stages': 'local-1422981780767.stages.json',
}

let server: Server
let url = ''
beforeAll(async () => {
  server = createServer((req, res) => {
    const file = files[req.url ?? '']
    if (!file) {
      res.writeHead(404).end('not found')
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(readFileSync(join(FIXTURES, 'history-server', file)))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

describe('Spark History Server REST API', () => {
  it('reads completed apps into the same totals as their event log', async () => {
    const apps = await readHistoryServer(url, httpFetchJson(5000))
    expect(apps).toHaveLength(1)
    const rest = apps[0]!.app
    const [log] = await readEventLogs(join(FIXTURES, 'eventlogs/apache_spark_tests/local-1422981780767'))
    const parsed = log!.app
    expect(rest.appId).toBe('local-1422981780767')
    expect(rest.appName).toBe(parsed.appName)
    expect(rest.durationS).toBe(parsed.durationS)
    for (const k of ['stages', 'tasks', 'executorRunTimeMs', 'inputBytes', 'shuffleReadBytes', 'shuffleWriteBytes', 'memoryBytesSpilled'] as const) {
      expect([k, rest.totals[k]]).toEqual([k, parsed.totals[k]])
    }
    expect(rest.totals.jobs).toBe(parsed.totals.jobs)
    // environment and allexecutors are not served: named as problems, the rest still read.
    expect(rest.problems.map((p) => p.file.replace(url, ''))).toEqual([
      '/api/v1/applications/local-1422981780767/environment', '/api/v1/applications/local-1422981780767/allexecutors'])
  })

  it('accepts the server URL with or without /api/v1 and refuses other schemes', () => {
    expect(apiBase('http://h:18080')).toBe('http://h:18080/api/v1')
    expect(apiBase('http://h:18080/api/v1/')).toBe('http://h:18080/api/v1')
    expect(() => apiBase('file:///etc/passwd')).toThrow(/only http and https/)
    expect(() => apiBase('not a url')).toThrow(/is not a URL/)
  })

  it('an unreachable server is a clear error', async () => {
    await expect(readHistoryServer('http://127.0.0.1:1', httpFetchJson(2000))).rejects.toThrow(/cannot reach the History Server/)
  })
})
