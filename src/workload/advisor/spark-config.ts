/**
 * @module From a cluster shape to what a platform needs: executors per node, cores and memory per executor
 * (the usual YARN rule: keep one core and about 10 % + 1 GiB of each node for the OS and node daemons, at most
 * 5 cores per executor for HDFS/S3 throughput, 10 % (at least 384 MiB) of an executor's memory as overhead),
 * the `spark-submit --conf` flags, and an EMR, Dataproc or Databricks cluster spec for the instance's cloud.
 */

export interface ExecutorLayout {
  readonly executorsPerNode: number
  readonly executors: number
  readonly executorCores: number
  /** Heap (`spark.executor.memory`), GiB. */
  readonly executorMemoryGb: number
  /** `spark.executor.memoryOverhead`, MiB. */
  readonly memoryOverheadMb: number
  /** Heap + overhead: the container size the cluster manager enforces, GiB. */
  readonly containerGb: number
  readonly shufflePartitions: number
}

export function executorLayout(nodes: number, vcpusPerNode: number, memoryGbPerNode: number): ExecutorLayout {
  const usableCores = vcpusPerNode >= 4 ? vcpusPerNode - 1 : vcpusPerNode
  const executorCores = Math.max(1, Math.min(5, usableCores))
  const executorsPerNode = Math.max(1, Math.floor(usableCores / executorCores))
  const usableGb = Math.max(1, memoryGbPerNode * 0.9 - 1)
  const containerGb = usableGb / executorsPerNode
  const heapGb = Math.max(0.5, Math.floor((containerGb / 1.1) * 4) / 4)
  const overheadMb = Math.max(384, Math.round(heapGb * 1024 * 0.1))
  const executors = executorsPerNode * nodes
  return {
    executorsPerNode, executors, executorCores, executorMemoryGb: heapGb, memoryOverheadMb: overheadMb,
    containerGb: heapGb + overheadMb / 1024, shufflePartitions: Math.max(8, 2 * executors * executorCores),
  }
}

export function sparkConf(layout: ExecutorLayout, recommendationId: string): Record<string, string> {
  return {
    'spark.executor.instances': String(layout.executors),
    'spark.executor.cores': String(layout.executorCores),
    'spark.executor.memory': `${Math.round(layout.executorMemoryGb * 1024)}m`,
    'spark.executor.memoryOverhead': `${layout.memoryOverheadMb}m`,
    'spark.dynamicAllocation.enabled': 'false',
    'spark.sql.shuffle.partitions': String(layout.shufflePartitions),
    'spark.default.parallelism': String(layout.shufflePartitions),
    // Lets the feedback loop match the run's event log to this recommendation.
    'spark.tessera.recommendationId': recommendationId,
  }
}

export function sparkSubmitFlags(conf: Readonly<Record<string, string>>): string {
  return Object.entries(conf).map(([k, v]) => `--conf ${k}=${v}`).join(' ')
}

export type Cloud = 'aws' | 'gcp' | 'azure' | 'unknown'

export function cloudOf(instanceType: string): Cloud {
  if (/^[a-z]+\d+[a-z]*\.(nano|micro|small|medium|large|metal|\d*xlarge)$/i.test(instanceType)) return 'aws'
  if (/^[a-z]\d[a-z]?-(standard|highmem|highcpu|custom|ultramem|megamem)(-\d+)+$/i.test(instanceType)) return 'gcp'
  if (/^Standard_/i.test(instanceType)) return 'azure'
  return 'unknown'
}

export interface ClusterSpecs {
  readonly emr?: unknown
  readonly dataproc?: unknown
  readonly databricks?: unknown
  /** Why a platform has no spec (the instance type is not of its cloud). */
  readonly notes: readonly string[]
}

/** Cluster specs for the platforms that run this instance type (one driver/master node of the same type). */
export function clusterSpecs(instanceType: string, nodes: number, conf: Readonly<Record<string, string>>, name: string): ClusterSpecs {
  const cloud = cloudOf(instanceType)
  const notes: string[] = []
  const databricks = cloud === 'unknown' ? undefined : {
    cluster_name: name, num_workers: nodes, node_type_id: instanceType, driver_node_type_id: instanceType, spark_conf: conf,
  }
  let emr: unknown
  let dataproc: unknown
  if (cloud === 'aws') {
    emr = {
      Name: name,
      Instances: {
        InstanceGroups: [
          { Name: 'driver', InstanceRole: 'MASTER', InstanceType: instanceType, InstanceCount: 1 },
          { Name: 'workers', InstanceRole: 'CORE', InstanceType: instanceType, InstanceCount: nodes },
        ],
      },
      Configurations: [{ Classification: 'spark-defaults', Properties: conf }],
    }
  } else notes.push(`no EMR spec: ${instanceType} is not an AWS instance type`)
  if (cloud === 'gcp') {
    dataproc = {
      clusterName: name,
      config: {
        masterConfig: { numInstances: 1, machineTypeUri: instanceType },
        workerConfig: { numInstances: nodes, machineTypeUri: instanceType },
        softwareConfig: { properties: Object.fromEntries(Object.entries(conf).map(([k, v]) => [`spark:${k}`, v])) },
      },
    }
  } else notes.push(`no Dataproc spec: ${instanceType} is not a GCP machine type`)
  if (!databricks) notes.push(`no Databricks spec: the cloud of ${instanceType} is not known`)
  return { ...(emr ? { emr } : {}), ...(dataproc ? { dataproc } : {}), ...(databricks ? { databricks } : {}), notes }
}
