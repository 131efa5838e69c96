import { describe, expect, it } from 'vitest'
import { fromC3o, fromDataproc, fromScout } from './converters.js'
import { formatRunsTable, parseRunsTable, runCost } from './runs-table.js'

const HEADER = 'job,input_bytes,instance_type,nodes,vcpus_per_node,memory_gb_per_node,price_per_node_hour,runtime_s,completed'

describe('runs table', () => {
  it('reads rows, further columns and round-trips', () => {
    const text = `${HEADER},disk,executor_memory_gb\netl,5e9,m5.xlarge,4,4,16,0.192,600,true,gp3,12\netl,,m5.xlarge,8,4,16,,330,FALSE,gp3,12\n`
    const { table, problems } = parseRunsTable(text)
    expect(problems).toEqual([])
    expect(table.extraColumns).toEqual(['disk', 'executor_memory_gb'])
    expect(table.rows[0]).toMatchObject({ job: 'etl', inputBytes: 5e9, nodes: 4, pricePerNodeHour: 0.192, completed: true, extra: { disk: 'gp3' } })
    expect(table.rows[1]).toMatchObject({ inputBytes: null, pricePerNodeHour: null, completed: false })
    expect(runCost(table.rows[0]!)).toBeCloseTo((600 / 3600) * 4 * 0.192, 9)
    expect(runCost(table.rows[1]!)).toBeNull()
    expect(parseRunsTable(formatRunsTable(table)).table).toEqual(table)
  })

  it('names the line and the column of every bad row, and keeps the good ones', () => {
    const text = `${HEADER}\netl,1,m5.xlarge,four,4,16,0.2,60,true\n,1,m5.xlarge,4,4,16,0.2,60,true\netl,1,m5.xlarge,4,4,16,0.2,60,maybe\netl,1,m5.xlarge,4,4,16,0.2,-3,true\netl,1,m5.xlarge,4\netl,1,m5.xlarge,4,4,16,0.2,60,true\n`
    const { table, problems } = parseRunsTable(text)
    expect(table.rows).toHaveLength(1)
    expect(problems.map((p) => p.line)).toEqual([2, 3, 4, 5, 6])
    expect(problems[0]!.message).toMatch(/nodes "four": must be an integer >= 1/)
    expect(problems[1]!.message).toMatch(/job .*is required/)
    expect(problems[2]!.message).toMatch(/completed .*true or false/)
    expect(problems[3]!.message).toMatch(/runtime_s "-3": must be a number >= 0/)
    expect(problems[4]!.message).toMatch(/has 4 fields, the header has 9/)
  })

  it('refuses a header without the required columns, saying which', () => {
    expect(() => parseRunsTable('job,nodes\netl,4\n', 'my.csv')).toThrow(/my.csv: header: missing columns input_bytes, instance_type/)
    expect(() => parseRunsTable('')).toThrow(/is empty/)
  })
})

describe('converters', () => {
  it('Scout: one job per workload, framework and size, the dataset size per job', () => {
    const text = 'run_id,workload,framework,datasize,run,n_nodes,vm_type,vm_family,vm_size,vcpus_per_node,mem_gib_per_node,total_vcpus,total_mem_gib,completed,elapsed_time_s,input_size_bytes,program,timestamp,price_usd_per_node_hour,cost_usd\n' +
      'a,join,spark,bigdata,1,10,c4.2xlarge,c4,2xlarge,8,15,80,150,True,305.064,100,P,t,0.398,0.33\n' +
      'b,join,spark,bigdata,1,4,c4.2xlarge,c4,2xlarge,8,15,32,60,False,7200,-1,P,t,0.398,3.1\n' +
      'c,join,spark,bigdata,1,6,c4.2xlarge,c4,2xlarge,8,15,48,90,True,x,104,P,t,0.398,0\n'
    const { table, problems } = fromScout(text)
    expect(problems).toEqual([{ line: 4, message: 'elapsed_time_s "x" is not a number' }])
    expect(table.rows.map((r) => [r.job, r.inputBytes, r.nodes, r.completed])).toEqual([['join_spark_bigdata', 100, 10, true], ['join_spark_bigdata', 100, 4, false]])
    expect(() => fromScout('a,b\n1,2\n')).toThrow(/missing column workload/)
  })

  it('C3O: the file name is the job, job parameters are features, prices from the 2018 table', () => {
    const { table, problems } = fromC3o('instance_count\tmachine_type\tslots\tmemory\tdata_size_MB\tk\tgross_runtime\n4\tm4.2xlarge\t32\t128000\t8000\t3\t700\n4\tx9.huge\t1\t1\t1\t1\t1\n', 'kmeans.tsv')
    expect(table.rows).toEqual([{ job: 'kmeans', inputBytes: 8e9, instanceType: 'm4.2xlarge', nodes: 4, vcpusPerNode: 8, memoryGbPerNode: 32, pricePerNodeHour: 0.4, runtimeS: 700, completed: true, extra: { source: 'c3o', k: '3' } }])
    expect(problems[0]!.message).toMatch(/not in the price table/)
  })

  it('Dataproc: custom N2 shapes priced per vCPU and GB', () => {
    const { table } = fromDataproc('algorithm,dataset_size_bytes,cpu_cores_per_node,memory_gb_per_node,scaleout,runtime\ngrep,1000,4,16,8,100\n')
    expect(table.rows[0]).toMatchObject({ job: 'grep', instanceType: 'n2-custom-4-16384', nodes: 8, pricePerNodeHour: 0.250248 })
  })
})
