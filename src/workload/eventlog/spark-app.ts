/**
 * @module What Tessera keeps of one Spark application (attempt): the allocation it used, its outcome, per-stage
 * aggregates and application totals. Filled from an event log (parse-eventlog.ts) or from the History Server's
 * REST API (history-server.ts). Memory peaks are null when the log carries no executor metrics: Spark only
 * records them with metric polling enabled, and a zero there means "not measured", not "no memory".
 */

export interface StageSummary {
  readonly stageId: number
  readonly attemptId: number
  readonly name: string
  readonly tasks: number
  readonly failedTasks: number
  /** Completion − submission (ms); null when either is missing. */
  readonly durationMs: number | null
  readonly failureReason: string | null
  readonly inputBytes: number
  readonly inputRecords: number
  readonly outputBytes: number
  readonly outputRecords: number
  readonly shuffleReadBytes: number
  readonly shuffleWriteBytes: number
  readonly memoryBytesSpilled: number
  readonly diskBytesSpilled: number
  readonly executorRunTimeMs: number
  readonly executorCpuTimeNs: number
  readonly jvmGcTimeMs: number
  /** Task duration (finish − launch, ms) distribution of the stage. */
  readonly taskDurationP50Ms: number | null
  readonly taskDurationMaxMs: number | null
}

export interface ExecutorSummary {
  readonly id: string
  readonly host: string
  readonly cores: number
  readonly addedAt: number | null
  readonly removedAt: number | null
  readonly removedReason: string | null
  /** Peak memory metrics seen for this executor (bytes), null when never measured. */
  readonly peakJvmHeapBytes: number | null
  readonly peakRssBytes: number | null
}

export interface FailureSummary {
  /** Task failures by reason (`ExceptionFailure`, `ExecutorLostFailure`, `FetchFailed`, `TaskKilled`, ...). */
  readonly taskFailuresByReason: Readonly<Record<string, number>>
  /** Task failures whose exception or loss reason names an out-of-memory condition. */
  readonly oomTaskFailures: number
  /** Executors removed for a reason other than an explicit release (dynamic allocation) or the app's end. */
  readonly lostExecutors: number
  readonly failedJobs: number
  readonly failedStages: number
}

export interface AppTotals {
  readonly jobs: number
  readonly stages: number
  readonly tasks: number
  readonly failedTasks: number
  readonly executorRunTimeMs: number
  readonly executorCpuTimeNs: number
  readonly jvmGcTimeMs: number
  readonly inputBytes: number
  readonly inputRecords: number
  readonly outputBytes: number
  readonly outputRecords: number
  readonly shuffleReadBytes: number
  readonly shuffleWriteBytes: number
  readonly memoryBytesSpilled: number
  readonly diskBytesSpilled: number
  readonly taskDurationP50Ms: number | null
  readonly taskDurationP95Ms: number | null
  readonly taskDurationMaxMs: number | null
  readonly maxTaskPeakExecutionMemory: number | null
}

export interface MemoryPeaks {
  /** Max over TaskEnd "Task Executor Metrics" (bytes); null when never non-zero. */
  readonly jvmHeapBytes: number | null
  readonly jvmOffHeapBytes: number | null
  readonly rssBytes: number | null
  readonly onHeapExecutionBytes: number | null
  /** Max over SparkListenerStageExecutorMetrics of executors (not the driver). */
  readonly stageExecutorJvmHeapBytes: number | null
  readonly stageExecutorRssBytes: number | null
}

export interface AllocationSummary {
  readonly master: string | null
  readonly deployMode: string | null
  readonly executorMemory: string | null
  readonly executorMemoryMb: number | null
  readonly executorCores: number | null
  readonly executorInstances: number | null
  readonly memoryOverhead: string | null
  readonly driverMemory: string | null
  readonly dynamicAllocation: boolean
  readonly dynamicMinExecutors: number | null
  readonly dynamicMaxExecutors: number | null
  readonly sqlShufflePartitions: number | null
  /** Platform hints: `emr`, `dataproc`, `databricks`, `yarn`, `kubernetes`, `standalone`, `local`. */
  readonly platform: string
  /** Worker node type when the platform names it (Databricks `spark.databricks.workerNodeTypeId`). */
  readonly instanceType: string | null
  /** Set when the run was submitted with a Tessera recommendation (`--conf spark.tessera.recommendationId=...`). */
  readonly recommendationId: string | null
}

export interface ParseProblem {
  /** 1-based line of the event log (in the file named by `file` for rolling logs). */
  readonly line: number
  readonly file: string
  readonly message: string
}

export interface SparkApp {
  readonly appId: string | null
  readonly attemptId: string | null
  readonly appName: string | null
  readonly sparkVersion: string | null
  readonly startTime: number | null
  readonly endTime: number | null
  /** (end − start) / 1000; null when the application never ended (a log in progress or cut short). */
  readonly durationS: number | null
  readonly completed: boolean
  readonly allocation: AllocationSummary
  readonly executors: readonly ExecutorSummary[]
  readonly executorsAdded: number
  readonly executorsRemoved: number
  readonly maxConcurrentExecutors: number
  /** Sum of the cores of every executor added. */
  readonly totalExecutorCoresSeen: number
  /** Distinct executor hosts (the node count of the cluster the app ran on). */
  readonly hosts: number
  /** Σ executor lifetime (s), from add to remove or the app's end: what the allocation held. */
  readonly executorSeconds: number
  readonly totals: AppTotals
  readonly memory: MemoryPeaks
  readonly failures: FailureSummary
  readonly stages: readonly StageSummary[]
  /** Lines that could not be read (corrupt JSON, a truncated last line) and broken compressed streams. */
  readonly problems: readonly ParseProblem[]
  readonly badLines: number
}
