/**
 * @module Runs an in-process scenario (resolve, baselines) in a child process of its own, so that its memory
 * figure is its own and a hang can be ended: the child (bench/child.ts) gets the job over IPC and answers with
 * the result or the error.
 */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { ScenarioResult } from './result.js'
import type { RawLimitOptions } from '../scenarios/baseline-raw-limit.js'
import type { SqlStitchingOptions } from '../scenarios/baseline-sql-stitching.js'
import type { ResolveOptions } from '../scenarios/resolve.js'

export type ChildJob =
  | { readonly kind: 'resolve'; readonly options: ResolveOptions }
  | { readonly kind: 'raw-limit'; readonly options: RawLimitOptions }
  | { readonly kind: 'sql-stitching'; readonly options: SqlStitchingOptions }

export type ChildAnswer = { readonly ok: true; readonly result: ScenarioResult } | { readonly ok: false; readonly error: string }

const CHILD = fileURLToPath(new URL('../child.ts', import.meta.url))

export function runInChild(job: ChildJob, timeoutMs: number): Promise<ScenarioResult> {
  return new Promise((resolve, reject) => {
    const child = fork(CHILD, [], { execArgv: ['--import', 'tsx', '--max-old-space-size=4096'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    let answered = false
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`timed out after ${Math.round(timeoutMs / 1000)} s`))
    }, timeoutMs)
    child.on('message', (message: ChildAnswer) => {
      answered = true
      clearTimeout(timer)
      if (message.ok) resolve(message.result)
      else reject(new Error(message.error))
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (!answered) reject(new Error(`the scenario process exited (${signal ?? code}) without a result`))
    })
    child.send(job)
  })
}
