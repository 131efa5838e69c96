/** @module One parsed application in the column layout of the corpus summary (tests and bench/workload/parser-corpus.ts). */
import type { SparkApp } from './spark-app.js'

/**
 * An application as a row of `eventlog_app_summary.csv` (the shared corpus's golden values): the columns the parser
 * fills, memory metrics that were never measured as 0 as that file writes them.
 */
export function summaryRow(app: SparkApp): Record<string, string> {
  const s = (v: unknown): string => (v === null || v === undefined ? '' : String(v))
  const z = (v: number | null): string => String(v ?? 0)
  return {
    app_id: s(app.appId), app_name: s(app.appName), spark_version: s(app.sparkVersion), master: s(app.allocation.master),
    executor_memory_mb: s(app.allocation.executorMemoryMb), executor_cores: s(app.allocation.executorCores),
    executor_instances: s(app.allocation.executorInstances), app_duration_s: s(app.durationS),
    max_concurrent_executors: s(app.maxConcurrentExecutors), total_executor_cores_seen: s(app.totalExecutorCoresSeen),
    task_duration_p50_ms: s(app.totals.taskDurationP50Ms), task_duration_p95_ms: s(app.totals.taskDurationP95Ms),
    task_duration_max_ms: s(app.totals.taskDurationMaxMs), jobs: s(app.totals.jobs), jobs_failed: s(app.failures.failedJobs),
    stages: s(app.totals.stages), stages_failed: s(app.failures.failedStages), tasks: s(app.totals.tasks), tasks_failed: s(app.totals.failedTasks),
    executors_added: s(app.executorsAdded), executors_removed: s(app.executorsRemoved), executor_run_time_ms: s(app.totals.executorRunTimeMs),
    executor_cpu_time_ns: s(app.totals.executorCpuTimeNs), jvm_gc_time_ms: s(app.totals.jvmGcTimeMs), input_bytes: s(app.totals.inputBytes),
    input_records: s(app.totals.inputRecords), output_bytes: s(app.totals.outputBytes), shuffle_read_bytes: s(app.totals.shuffleReadBytes),
    shuffle_write_bytes: s(app.totals.shuffleWriteBytes), memory_bytes_spilled: s(app.totals.memoryBytesSpilled),
    disk_bytes_spilled: s(app.totals.diskBytesSpilled), bad_lines: s(app.badLines),
    max_task_peak_execution_memory: z(app.totals.maxTaskPeakExecutionMemory), max_JVMHeapMemory: z(app.memory.jvmHeapBytes),
    max_JVMOffHeapMemory: z(app.memory.jvmOffHeapBytes), max_ProcessTreeJVMRSSMemory: z(app.memory.rssBytes),
    max_OnHeapExecutionMemory: z(app.memory.onHeapExecutionBytes), stageexec_max_JVMHeapMemory: z(app.memory.stageExecutorJvmHeapBytes),
    stageexec_max_ProcessTreeJVMRSSMemory: z(app.memory.stageExecutorRssBytes),
  }
}

