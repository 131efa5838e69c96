/** @module What machine a benchmark ran on, for the result file (`machine` object). */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { arch, cpus, platform, release, totalmem } from 'node:os'

export interface MachineInfo {
  readonly cpus: number
  readonly model: string
  readonly memory_gb: number
  readonly node: string
  readonly os: string
  readonly arch: string
  readonly sqlite: string
  readonly git_commit: string | null
}

function osName(): string {
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1]
    if (pretty) return `${pretty} (${platform()} ${release()})`
  } catch {
    // not Linux: fall through to the kernel name
  }
  return `${platform()} ${release()}`
}

function gitCommit(): string | null {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch {
    return null
  }
}

export function machineInfo(sqliteVersion: string): MachineInfo {
  const list = cpus()
  return {
    cpus: list.length,
    model: list[0]?.model.trim() ?? 'unknown',
    memory_gb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: osName(),
    arch: arch(),
    sqlite: sqliteVersion,
    git_commit: gitCommit(),
  }
}

/** Resident set size of a process in MB, from /proc (Linux); null when the process is gone. */
export function rssMbOf(pid: number): number | null {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
    return kb === undefined ? null : Number(kb) / 1024
  } catch {
    return null
  }
}

/**
 * CPU time (user + system, all threads) a process used so far, in milliseconds, from /proc/<pid>/stat (Linux;
 * clock ticks of 10 ms); null when the process is gone. A figure that a shared, loaded machine moves far less
 * than events/s: the work per event, not how much of the cores the process got.
 */
export function cpuMsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return null
  }
}

/** Samples a set of processes' RSS every `everyMs` and keeps each one's peak. */
export class RssSampler {
  readonly #pids: () => readonly number[]
  readonly #timer: NodeJS.Timeout
  readonly peak = new Map<number, number>()
  readonly last = new Map<number, number>()

  constructor(pids: () => readonly number[], everyMs = 500) {
    this.#pids = pids
    this.sample()
    this.#timer = setInterval(() => this.sample(), everyMs)
    this.#timer.unref()
  }

  sample(): void {
    for (const pid of this.#pids()) {
      const mb = rssMbOf(pid)
      if (mb === null) continue
      this.last.set(pid, mb)
      this.peak.set(pid, Math.max(this.peak.get(pid) ?? 0, mb))
    }
  }

  stop(): void {
    this.sample()
    clearInterval(this.#timer)
  }
}
