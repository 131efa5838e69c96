/**
 * @module Reads finished applications from a Spark History Server's REST API (`/api/v1`): the application list,
 * then per attempt its environment, executors (all, dead included), stages and jobs, summed into a
 * {@link SparkApp} like the event-log parser's. The History Server keeps only `spark.ui.retained*` jobs, stages
 * and tasks, and no task durations per stage, so parsing the event logs is exact where this is a summary; a
 * view that fails (404 on an older server) is a problem on the app, not a failure of the whole harvest.
 * `fetchJson` is injected so tests and the CLI can point it anywhere (the CLI uses global fetch).
 */
import { TesseraError } from '../../core/errors.js'
import { memoryMb } from './parse-eventlog.js'
import type { ExecutorSummary, ParseProblem, SparkApp, StageSummary } from './spark-app.js'

export type FetchJson = (url: string) => Promise<unknown>

/** GETs JSON with a timeout; a non-2xx answer or a non-JSON body is an error naming the URL. */
export function httpFetchJson(timeoutMs = 30_000): FetchJson {
  return async (url) => {
    let response: Response
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } })
    } catch (cause) {
      throw new TesseraError('TESSERA_VALIDATION', `cannot reach the History Server at ${url}: ${(cause as Error).message}`, { cause })
    }
    if (!response.ok) throw new TesseraError('TESSERA_NOT_FOUND', `${url} answered HTTP ${response.status}`)
    try {
      return await response.json()
    } catch (cause) {
      throw new TesseraError('TESSERA_VALIDATION', `${url} did not answer JSON (is it a History Server /api/v1 URL?)`, { cause })
    }
  }
}

type Json = Record<string, unknown>
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {})
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0)
const time = (v: unknown): number | null => {
  if (typeof v === 'number') return v
  if (typeof v !== 'string' || v === '') return null
  const t = Date.parse(v.replace(/GMT$/, 'Z'))
  return Number.isFinite(t) ? t : null
}

/** The API base (`.../api/v1`) of a History Server URL given with or without it. */
export function apiBase(url: string): string {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new TesseraError('TESSERA_VALIDATION', `${JSON.stringify(url.slice(0, 100))} is not a URL (e.g. http://history:18080)`)
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TesseraError('TESSERA_VALIDATION', `${url}: only http and https History Server URLs are read`)
  const path = u.pathname.replace(/\/+$/, '')
  return `${u.origin}${path.endsWith('/api/v1') ? path : `${path}/api/v1`}`
}

export interface HarvestOptions {
  /** Most applications to read (newest first, as the server lists them). */
  readonly limit?: number
}

/** Reads every completed application (each attempt separately). */
export async function readHistoryServer(url: string, fetchJson: FetchJson, options: HarvestOptions = {}): Promise<{ source: string; app: SparkApp }[]> {
  const base = apiBase(url)
  const list = arr(await fetchJson(`${base}/applications?status=completed${options.limit ? `&limit=${options.limit}` : ''}`))
  const out: { source: string; app: SparkApp }[] = []
  for (const a of list) {
    const app = obj(a)
    const id = String(app.id ?? '')
    if (id === '') continue
    for (const at of arr(app.attempts)) {
      const attempt = obj(at)
      const attemptId = typeof attempt.attemptId === 'string' ? attempt.attemptId : null
      const path = `${base}/applications/${encodeURIComponent(id)}${attemptId ? `/${encodeURIComponent(attemptId)}` : ''}`
      out.push({ source: path, app: await readAttempt(path, id, String(app.name ?? ''), attempt, fetchJson) })
    }
  }
  return out
}

async function readAttempt(path: string, id: string, name: string, attempt: Json, fetchJson: FetchJson): Promise<SparkApp> {
  const problems: ParseProblem[] = []
  const view = async (what: string): Promise<unknown> => {
    try {
      return await fetchJson(`${path}/${what}`)
    } catch (error) {
      problems.push({ line: 0, file: `${path}/${what}`, message: (error as Error).message })
      return null
    }
  }
  const env = obj(await view('environment'))
  let executorsJson = await view('allexecutors')
  if (executorsJson === null) executorsJson = await view('executors')
  const stagesJson = arr(await view('stages'))
  const jobsJson = arr(await view('jobs'))
  const props: Record<string, string> = {}
  for (const pair of arr(env.sparkProperties)) if (Array.isArray(pair) && pair.length >= 2) props[String(pair[0])] = String(pair[1])
  const start = time(attempt.startTimeEpoch) ?? time(attempt.startTime)
  const end = attempt.completed === false ? null : (time(attempt.endTimeEpoch) ?? time(attempt.endTime))
  const executors: ExecutorSummary[] = arr(executorsJson).map(obj).filter((x) => x.id !== 'driver').map((x) => {
    const peaks = obj(x.peakMemoryMetrics)
    return {
      id: String(x.id), host: String(x.hostPort ?? '').replace(/:\d+$/, ''), cores: n(x.totalCores), addedAt: time(x.addTime), removedAt: time(x.removeTime),
      removedReason: typeof x.removeReason === 'string' ? x.removeReason : null,
      peakJvmHeapBytes: n(peaks.JVMHeapMemory) > 0 ? n(peaks.JVMHeapMemory) : null, peakRssBytes: n(peaks.ProcessTreeJVMRSSMemory) > 0 ? n(peaks.ProcessTreeJVMRSSMemory) : null,
    }
  })
  const stages: StageSummary[] = stagesJson.map(obj).filter((s) => s.status === 'COMPLETE' || s.status === 'FAILED').map((s) => {
    const sub = time(s.submissionTime)
    const done = time(s.completionTime)
    return {
      stageId: n(s.stageId), attemptId: n(s.attemptId), name: String(s.name ?? ''), tasks: n(s.numCompleteTasks) + n(s.numFailedTasks) + n(s.numKilledTasks),
      failedTasks: n(s.numFailedTasks) + n(s.numKilledTasks), durationMs: sub !== null && done !== null ? done - sub : null,
      failureReason: typeof s.failureReason === 'string' ? s.failureReason : null, inputBytes: n(s.inputBytes), inputRecords: n(s.inputRecords),
      outputBytes: n(s.outputBytes), outputRecords: n(s.outputRecords), shuffleReadBytes: n(s.shuffleReadBytes), shuffleWriteBytes: n(s.shuffleWriteBytes),
      memoryBytesSpilled: n(s.memoryBytesSpilled), diskBytesSpilled: n(s.diskBytesSpilled), executorRunTimeMs: n(s.executorRunTime),
      executorCpuTimeNs: n(s.executorCpuTime), jvmGcTimeMs: n(s.jvmGcTime), taskDurationP50Ms: null, taskDurationMaxMs: null,
    }
  })
  const sum = (k: keyof StageSummary): number => stages.reduce((t, s) => t + (s[k] as number), 0)
  const intProp = (k: string): number | null => (props[k] !== undefined && /^\d+$/.test(props[k]!) ? Number(props[k]) : null)
  const lastTime = end ?? Math.max(0, ...executors.map((x) => x.removedAt ?? x.addedAt ?? 0))
  const peakHeap = Math.max(0, ...executors.map((x) => x.peakJvmHeapBytes ?? 0))
  const peakRss = Math.max(0, ...executors.map((x) => x.peakRssBytes ?? 0))
  let concurrent = 0
  let maxConcurrent = 0
  for (const e of executors.flatMap((x) => [{ t: x.addedAt ?? 0, d: 1 }, ...(x.removedAt !== null ? [{ t: x.removedAt, d: -1 }] : [])]).sort((a, b) => a.t - b.t || b.d - a.d)) {
    concurrent += e.d
    maxConcurrent = Math.max(maxConcurrent, concurrent)
  }
  const master = props['spark.master'] ?? null
  return {
    appId: id, attemptId: typeof attempt.attemptId === 'string' ? attempt.attemptId : null, appName: name,
    sparkVersion: typeof attempt.appSparkVersion === 'string' && attempt.appSparkVersion !== '' ? attempt.appSparkVersion : null,
    startTime: start, endTime: end, durationS: start !== null && end !== null ? (end - start) / 1000 : null, completed: end !== null,
    allocation: {
      master, deployMode: props['spark.submit.deployMode'] ?? null, executorMemory: props['spark.executor.memory'] ?? null,
      executorMemoryMb: memoryMb(props['spark.executor.memory'] ?? null), executorCores: intProp('spark.executor.cores'),
      executorInstances: intProp('spark.executor.instances'), memoryOverhead: props['spark.executor.memoryOverhead'] ?? null,
      driverMemory: props['spark.driver.memory'] ?? null, dynamicAllocation: props['spark.dynamicAllocation.enabled'] === 'true',
      dynamicMinExecutors: intProp('spark.dynamicAllocation.minExecutors'), dynamicMaxExecutors: intProp('spark.dynamicAllocation.maxExecutors'),
      sqlShufflePartitions: intProp('spark.sql.shuffle.partitions'),
      platform: master?.startsWith('yarn') ? 'yarn' : master?.startsWith('k8s') ? 'kubernetes' : master?.startsWith('spark://') ? 'standalone' : master?.startsWith('local') ? 'local' : 'unknown',
      instanceType: props['spark.databricks.workerNodeTypeId'] ?? null, recommendationId: props['spark.tessera.recommendationId'] ?? null,
    },
    executors, executorsAdded: executors.length, executorsRemoved: executors.filter((x) => x.removedAt !== null).length, maxConcurrentExecutors: maxConcurrent,
    totalExecutorCoresSeen: executors.reduce((t, x) => t + x.cores, 0), hosts: new Set(executors.map((x) => x.host).filter((h) => h !== '')).size,
    executorSeconds: executors.reduce((t, x) => t + (x.addedAt === null ? 0 : Math.max(0, (x.removedAt ?? lastTime) - x.addedAt) / 1000), 0),
    totals: {
      jobs: jobsJson.length, stages: stages.length, tasks: sum('tasks'), failedTasks: sum('failedTasks'), executorRunTimeMs: sum('executorRunTimeMs'),
      executorCpuTimeNs: sum('executorCpuTimeNs'), jvmGcTimeMs: sum('jvmGcTimeMs'), inputBytes: sum('inputBytes'), inputRecords: sum('inputRecords'),
      outputBytes: sum('outputBytes'), outputRecords: sum('outputRecords'), shuffleReadBytes: sum('shuffleReadBytes'), shuffleWriteBytes: sum('shuffleWriteBytes'),
      memoryBytesSpilled: sum('memoryBytesSpilled'), diskBytesSpilled: sum('diskBytesSpilled'), taskDurationP50Ms: null, taskDurationP95Ms: null,
      taskDurationMaxMs: null, maxTaskPeakExecutionMemory: null,
    },
    memory: { jvmHeapBytes: peakHeap > 0 ? peakHeap : null, jvmOffHeapBytes: null, rssBytes: peakRss > 0 ? peakRss : null, onHeapExecutionBytes: null, stageExecutorJvmHeapBytes: null, stageExecutorRssBytes: null },
    failures: {
      taskFailuresByReason: {}, oomTaskFailures: 0,
      lostExecutors: executors.filter((x) => x.removedReason !== null && !/explicit termination|idle|shutdown|finished/i.test(x.removedReason)).length,
      failedJobs: jobsJson.map(obj).filter((j) => j.status === 'FAILED').length, failedStages: stages.filter((s) => s.failureReason !== null).length,
    },
    stages, problems, badLines: 0,
  }
}
