/**
 * The workload advisor end to end, through the CLI and the admin API of a running Tessera: history from the
 * Scout runs and real event logs, a recommendation, the feedback loop closed by the recommended run's event log
 * (matched by spark.tessera.recommendationId), accuracy over time, evaluation, and the access policies.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { main } from '../../src/cli/main.js'
import { ADMIN_TOKEN, startHarness, type Harness } from '../support/tessera-harness.js'

const FIXTURES = join(import.meta.dirname, '../fixtures/workload')

/** The advice JSON, as far as these tests read it. */
interface Advice {
  id: string
  meetsDeadline: boolean
  sparkSubmit: string
  chosen: { runtimeP90S: number; nodes: number }
  clusterSpecs: { emr: { Instances: { InstanceGroups: { InstanceCount: number }[] } } }
  exploration: { needed: boolean; trials?: unknown[]; totalPredictedCostUsd?: number }
  warnings: string[]
}
const TOKENS = {
  engineer: { name: 'spark-team', token: 'tok_data_engineer_0123456789', roles: ['data_engineer'], purpose: 'administration' },
  analyst: { name: 'analyst', token: 'tok_analyst_0123456789abcdef', roles: ['analyst'] },
} as const

let h: Harness
let work: string

async function cli(...args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = []
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')))
  const err = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')))
  const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
  try {
    const code = await main(args)
    return { code, out: lines.join('\n') }
  } finally {
    log.mockRestore()
    err.mockRestore()
    write.mockRestore()
  }
}

async function call(token: string, method: string, path: string, body?: string | Buffer | object, contentType = 'application/json', purpose?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` }
  if (purpose) headers['x-tessera-purpose'] = purpose
  if (body !== undefined) headers['content-type'] = contentType
  const res = await fetch(h.url + path, {
    method, headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body) }),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

beforeAll(async () => {
  h = await startHarness({ adminTokens: Object.values(TOKENS).map((t) => ({ ...t, roles: [...t.roles] })) })
  work = mkdtempSync(join(tmpdir(), 'tessera-workload-'))
  // Six of Scout's 18 jobs keep the model fits of this file to about a second each.
  const lines = readFileSync(join(FIXTURES, 'scout/scout_multinode_runs.csv'), 'utf8').trim().split('\n')
  const keep = /,(join,spark|lr,spark|pagerank,spark|wordcount,hadoop|terasort,hadoop|kmeans,spark1\.5),bigdata,/
  writeFileSync(join(work, 'scout-history.csv'), [lines[0], ...lines.slice(1).filter((l) => keep.test(l))].join('\n') + '\n')
})

afterAll(async () => {
  await h?.close()
  if (work) rmSync(work, { recursive: true, force: true })
})

describe('tessera workload (CLI)', () => {
  it('ingests the Scout history and real event logs into the data dir, once', async () => {
    const scout = await cli('workload', 'ingest', join(work, 'scout-history.csv'), '--data-dir', h.dataDir)
    expect(scout).toMatchObject({ code: 0 })
    expect(scout.out).toMatch(/^414 run\(s\) added/)
    const logs = await cli('workload', 'ingest', join(FIXTURES, 'codecs'), '--instance-type', 'm4.xlarge', '--price', '0.2', '--data-dir', h.dataDir)
    // Six logs, three applications: the four codec copies of one app are one run (same app id and start).
    expect(logs.out).toMatch(/^3 run\(s\) added, 3 already in the history \(from 6 application\(s\)\)/)
    const again = await cli('workload', 'ingest', join(FIXTURES, 'codecs'), '--data-dir', h.dataDir)
    expect(again.out).toMatch(/^0 run\(s\) added, 6 already/)
  })

  it('recommends from the stored history, with flags, specs and alternatives', async () => {
    const r = await cli('workload', 'recommend', '--job', 'lr_spark_bigdata', '--input-gb', '48', '--deadline', '50m', '--json', '--data-dir', h.dataDir)
    expect(r.code).toBe(0)
    const advice = JSON.parse(r.out) as Advice
    expect(advice.meetsDeadline).toBe(true)
    expect(advice.chosen.runtimeP90S).toBeLessThanOrEqual(3000)
    expect(advice.sparkSubmit).toContain(`--conf spark.tessera.recommendationId=${advice.id}`)
    expect(advice.clusterSpecs.emr.Instances.InstanceGroups[1]!.InstanceCount).toBe(advice.chosen.nodes)
    expect(advice.exploration).toEqual({ needed: false })
    const text = await cli('workload', 'recommend', '--job', 'lr_spark_bigdata', '--input-gb', '48', '--deadline', '50m', '--data-dir', h.dataDir)
    expect(text.out).toMatch(/lr_spark_bigdata: \d+ × \S+ — P50/)
    expect(text.out).toMatch(/alternatives:/)
  })

  it('proposes trial runs for a job it has never seen', async () => {
    const r = await cli('workload', 'recommend', '--job', 'new_nightly_rebuild', '--input-gb', '100', '--deadline', '1h', '--json', '--data-dir', h.dataDir)
    const advice = JSON.parse(r.out) as Advice
    expect(advice.exploration.needed).toBe(true)
    expect(advice.exploration.trials).toHaveLength(3)
    expect(advice.exploration.totalPredictedCostUsd).toBeGreaterThan(0)
    expect(advice.warnings.join(' ')).toMatch(/no completed run in the history: it is predicted as an average job/)
  })

  it('evaluates a runs table and writes the JSON report', async () => {
    const jobs = ['join_spark_bigdata', 'lr_spark_bigdata', 'pagerank_spark_bigdata', 'wordcount_hadoop_bigdata']
    const lines = readFileSync(join(FIXTURES, 'scout/scout_multinode_runs.csv'), 'utf8').split('\n')
    writeFileSync(join(work, 'scout-small.csv'), [lines[0], ...lines.slice(1).filter((l) => jobs.some((j) => l.includes(`,${j.split('_')[0]},${j.split('_')[1]},${j.split('_')[2]},`)) && !/\.large,/.test(l))].join('\n'))
    const conv = await cli('workload', 'convert', '--from', 'scout', join(work, 'scout-small.csv'), '--out', join(work, 'runs.csv'))
    expect(conv.out).toMatch(/runs of 4 jobs written/)
    const out = join(work, 'eval.json')
    const r = await cli('workload', 'eval', '--runs', join(work, 'runs.csv'), '--protocol', 'leave-one-job-out', '--sla', 'median', '--trials', '2', '--json', out)
    expect(r.code).toBe(0)
    const report = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>
    for (const k of ['runtime_mape', 'cost_ratio_vs_oracle', 'sla_violation_rate', 'trial_cost_runs', 'best_static_cost_ratio']) expect(typeof report[k]).toBe('number')
    expect(report).toMatchObject({ protocol: 'leave-one-job-out', trials: 2, jobs: 4 })
  })

  it('bad input is a clear error', async () => {
    expect(await cli('workload', 'recommend', '--job', 'x', '--data-dir', h.dataDir)).toMatchObject({ code: 1, out: expect.stringMatching(/--deadline is required/) })
    expect(await cli('workload', 'recommend', '--job', 'x', '--deadline', 'tomorrow', '--data-dir', h.dataDir)).toMatchObject({ code: 1, out: expect.stringMatching(/is not a duration/) })
    expect(await cli('workload', 'ingest', '/nonexistent/log', '--data-dir', h.dataDir)).toMatchObject({ code: 1, out: expect.stringMatching(/no such file or folder/) })
    expect(await cli('workload', 'eval', '--runs', join(work, 'runs.csv'), '--protocol', 'random', '--json', join(work, 'x.json'))).toMatchObject({ code: 1, out: expect.stringMatching(/--protocol must be/) })
    expect(await cli('workload', 'frobnicate')).toMatchObject({ code: 1, out: expect.stringMatching(/unknown workload command/) })
    writeFileSync(join(work, 'bad.csv'), 'job,nodes\nx,1\n')
    expect(await cli('workload', 'ingest', join(work, 'bad.csv'), '--data-dir', h.dataDir)).toMatchObject({ code: 1, out: expect.stringMatching(/not a runs table/) })
  })
})

describe('/v1/workload (admin API)', () => {
  let recommendation = ''

  it('a data engineer gets a recommendation; an analyst and an anonymous caller do not', async () => {
    const ok = await call(TOKENS.engineer.token, 'POST', '/v1/workload/recommend', { job: 'pagerank_spark_bigdata', inputGb: 6, deadline: 900 })
    expect(ok.status).toBe(200)
    expect(ok.body).toMatchObject({ job: 'pagerank_spark_bigdata', deadlineS: 900 })
    recommendation = String(ok.body.id)
    const denied = await call(TOKENS.analyst.token, 'POST', '/v1/workload/recommend', { job: 'pagerank_spark_bigdata', deadline: 900 }, 'application/json', 'analytics')
    expect(denied.status).toBe(403)
    const anonymous = await fetch(`${h.url}/v1/workload/runs`)
    expect(anonymous.status).toBe(401)
    const bad = await call(TOKENS.engineer.token, 'POST', '/v1/workload/recommend', { job: 'x', deadline: 'never' })
    expect(bad.status).toBe(400)
    expect(String(bad.body.message)).toMatch(/deadline/)
  })

  it('closes the feedback loop when the recommended run’s event log arrives', async () => {
    // The recommended run: a real event log whose Spark properties carry the recommendation id, as the flags set it.
    const log = readFileSync(join(FIXTURES, 'eventlogs/apache_spark_tests/application_1553914137147_0018'), 'utf8')
      .replace('"Spark Properties":{', `"Spark Properties":{"spark.tessera.recommendationId":"${recommendation}",`)
      .replace(/application_1553914137147_0018/g, 'application_1553914137147_9999')
    const ingest = await call(TOKENS.engineer.token, 'POST', '/v1/workload/ingest?instanceType=r4.2xlarge&price=0.532&name=app.log', Buffer.from(log), 'application/octet-stream')
    expect(ingest.status).toBe(200)
    expect(ingest.body).toMatchObject({ applications: 1, added: 1 })
    const outcomes = ingest.body.outcomes as { recommendationId: string; runtimeS: number }[]
    expect(outcomes).toHaveLength(1)
    expect(outcomes[0]).toMatchObject({ recommendationId: recommendation, runtimeS: 62.168 })
    const rec = await call(TOKENS.engineer.token, 'GET', `/v1/workload/recommendations/${recommendation}`)
    expect(rec.status).toBe(200)
    expect((rec.body.outcomes as unknown[]).length).toBe(1)
    const accuracy = await call(TOKENS.engineer.token, 'GET', '/v1/workload/accuracy?period=day')
    expect(accuracy.body.overall).toMatchObject({ runs: 1 })
    expect((accuracy.body.periods as unknown[]).length).toBe(1)
    // The same log again: no new run, no second outcome.
    const again = await call(TOKENS.engineer.token, 'POST', '/v1/workload/ingest', Buffer.from(log), 'application/octet-stream')
    expect(again.body).toMatchObject({ added: 0, duplicates: 1, outcomes: [] })
  })

  it('ingests a compressed log and a runs table, and lists the history', async () => {
    const zstd = await call(TOKENS.engineer.token, 'POST', '/v1/workload/ingest', readFileSync(join(FIXTURES, 'eventlogs/spark_rapids_tools/spark-events-qualification_jdbc_eventlog.zstd')), 'application/octet-stream')
    expect(zstd.body).toMatchObject({ added: 1 })
    const csv = 'job,input_bytes,instance_type,nodes,vcpus_per_node,memory_gb_per_node,price_per_node_hour,runtime_s,completed\netl,1e9,m5.xlarge,4,4,16,0.192,300,true\netl,1e9,m5.xlarge,x,4,16,0.192,300,true\n'
    const table = await call(TOKENS.engineer.token, 'POST', '/v1/workload/ingest?format=runs', csv, 'text/csv')
    expect(table.body).toMatchObject({ added: 1 })
    expect((table.body.problems as { line: number }[])[0]).toMatchObject({ line: 3 })
    const runs = await call(TOKENS.engineer.token, 'GET', '/v1/workload/runs?job=etl')
    expect(runs.body.total).toBe(1)
    const empty = await call(TOKENS.engineer.token, 'POST', '/v1/workload/ingest', Buffer.alloc(0), 'application/octet-stream')
    expect(empty.status).toBe(400)
  })

  it('evaluates an uploaded runs table; the admin token may do everything', async () => {
    const csv = readFileSync(join(work, 'runs.csv'), 'utf8')
    const r = await call(ADMIN_TOKEN, 'POST', '/v1/workload/eval?protocol=leave-one-job-out&trials=1', csv, 'text/csv', 'administration')
    expect(r.status).toBe(200)
    expect(r.body).toMatchObject({ protocol: 'leave-one-job-out', trials: 1, jobs: 4 })
    expect(typeof r.body.cost_ratio_vs_oracle).toBe('number')
  })

  it('writes every call to the audit log', async () => {
    const audit = await call(ADMIN_TOKEN, 'GET', '/v1/audit/entries?limit=500', undefined, 'application/json', 'administration')
    expect(audit.status).toBe(200)
    const kinds = (audit.body.entries as { entry: { kind: string } }[]).map((e) => e.entry.kind)
    expect(kinds).toEqual(expect.arrayContaining(['workload.recommend', 'workload.ingest', 'workload.read', 'workload.eval']))
  })
})
