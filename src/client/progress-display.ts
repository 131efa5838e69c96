/**
 * @module Progress of a long send (events, bytes of a file) on stderr: a cli-progress bar when stderr is a
 * terminal, otherwise one plain line every few seconds, so that logs of CI jobs and pipes stay readable.
 */
import { Presets, SingleBar } from 'cli-progress'

export type ProgressUnit = 'events' | 'bytes'

/** Where CLI text goes: `process.stdout`/`process.stderr`, or a test's collector. */
export interface TextSink {
  write(text: string): unknown
  /** True for a terminal; only then is a redrawn bar shown. */
  readonly isTTY?: boolean
}

export interface ProgressOptions {
  readonly label: string
  readonly total: number
  readonly unit: ProgressUnit
  /** Default `process.stderr`. */
  readonly stream?: TextSink
  /** Seconds between plain lines when the stream is not a terminal (default 5). */
  readonly intervalSeconds?: number
}

/** A running progress display. */
export interface ProgressDisplay {
  /** Sets the current value (events done, bytes read). */
  update(value: number): void
  /** Ends the display, leaving the final state visible. Idempotent. */
  stop(): void
}

/** `1.2 MB`, `340 KB`, `12 B`. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MB`
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} KB`
  return `${bytes} B`
}

function formatValue(value: number, unit: ProgressUnit): string {
  return unit === 'bytes' ? formatBytes(value) : value.toLocaleString('en-US')
}

/** Starts a progress display for `total` units. */
export function startProgress(options: ProgressOptions): ProgressDisplay {
  const stream = options.stream ?? process.stderr
  // Only a real terminal stream reports isTTY, and cli-progress needs such a stream (cursor movement, columns).
  return stream.isTTY === true ? barProgress(options, stream as NodeJS.WritableStream) : lineProgress(options, stream)
}

function barProgress(options: ProgressOptions, stream: NodeJS.WritableStream): ProgressDisplay {
  const bar = new SingleBar(
    {
      format: `${options.label} [{bar}] {percentage}% | {done}/{all} | {speed}/s | {duration_formatted}`,
      stream,
      hideCursor: true,
      fps: 10,
    },
    Presets.shades_classic,
  )
  const started = Date.now()
  const payload = (value: number): Record<string, string> => {
    const seconds = Math.max(0.001, (Date.now() - started) / 1000)
    return {
      done: formatValue(value, options.unit),
      all: formatValue(options.total, options.unit),
      speed: formatValue(Math.round(value / seconds), options.unit),
    }
  }
  bar.start(Math.max(1, options.total), 0, payload(0))
  let stopped = false
  return {
    update(value) {
      if (!stopped) bar.update(value, payload(value))
    },
    stop() {
      if (stopped) return
      stopped = true
      bar.stop()
    },
  }
}

function lineProgress(options: ProgressOptions, stream: TextSink): ProgressDisplay {
  const intervalMs = (options.intervalSeconds ?? 5) * 1000
  let value = 0
  let printed = -1
  const print = (): void => {
    if (value === printed) return
    printed = value
    const percent = options.total > 0 ? Math.floor((value / options.total) * 100) : 100
    stream.write(`${options.label}: ${formatValue(value, options.unit)} of ${formatValue(options.total, options.unit)} (${percent}%)\n`)
  }
  const timer = setInterval(print, intervalMs)
  timer.unref()
  let stopped = false
  return {
    update(next) {
      value = next
    },
    stop() {
      if (stopped) return
      stopped = true
      clearInterval(timer)
      print()
    },
  }
}
