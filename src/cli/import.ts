/**
 * @module `tessera import <file> --source <id>`: streams a CSV or JSONL file into the tracking API as one
 * source's calls, shows progress on stderr, and reports rows accepted and rejected (with line and reason, in the
 * console and in `<file>.rejected.csv`). Re-running an import is safe: generated messageIds depend only on the
 * source, file name, line and content, so rows the server already has are deduplicated.
 */
import { statSync } from 'node:fs'
import { basename } from 'node:path'
import { isTesseraError } from '../core/errors.js'
import { isClientError, type ClientError } from '../client/client-error.js'
import {
  defaultWriteKey, missingCredentialsHint, resolveConnection, sourceWriteKey, type ConnectionSettings, type ResolvedWriteKey,
} from '../client/connection-settings.js'
import { startProgress, type TextSink } from '../client/progress-display.js'
import { probeServer } from '../client/server-probe.js'
import { TrackingClient } from '../client/tracking-client.js'
import { IMPORT_USAGE, parseImportArgs, type ImportArgs } from './import/import-args.js'
import { formatImportReport, writeRejectedFile, type RejectedRow } from './import/import-report.js'
import { ImportFileError, readRows, type ImportRow } from './import/read-rows.js'
import { ColumnMappingError, isSegmentCall, RowMapper, segmentCall, type MappedRow } from './import/row-mapping.js'

/** Streams and environment of a command; tests pass collectors, the CLI passes the process's own. */
export interface ImportIo {
  readonly stdout: TextSink
  readonly stderr: TextSink
  readonly env: Readonly<Record<string, string | undefined>>
}

interface RowRef {
  readonly line: number
  readonly original: readonly string[]
}

/**
 * Runs `tessera import` with the arguments after the subcommand. Returns the exit code: 0 when every row was
 * accepted, 2 when some were rejected, 1 when the import could not run (bad arguments, missing file, server
 * unreachable, key refused).
 */
export async function runImport(argv: readonly string[], io: ImportIo = { stdout: process.stdout, stderr: process.stderr, env: process.env }): Promise<number> {
  const parsed = parseImportArgs(argv)
  if (parsed.kind === 'help') {
    io.stdout.write(IMPORT_USAGE + '\n')
    return 0
  }
  if (parsed.kind === 'error') {
    io.stderr.write(`tessera import: ${parsed.message}\n\n${IMPORT_USAGE}\n`)
    return 1
  }
  const args = parsed.args
  const fail = (message: string): number => {
    io.stderr.write(`tessera import: ${message}\n`)
    return 1
  }

  let size: number
  try {
    const stat = statSync(args.file)
    if (!stat.isFile()) return fail(`${args.file} is not a file`)
    size = stat.size
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return fail(code === 'ENOENT' ? `${args.file} does not exist (check the path)` : `cannot read ${args.file}: ${(error as Error).message}`)
  }

  let client: TrackingClient<RowRef> | null = null
  let settings: ConnectionSettings | null = null
  const rejected: RejectedRow[] = []
  if (!args.dryRun) {
    let resolved
    try {
      resolved = resolveConnection({ url: args.url, dataDir: args.dataDir, env: io.env })
    } catch (error) {
      if (isTesseraError(error)) return fail(error.message)
      throw error
    }
    if (!resolved.ok) {
      io.stderr.write(`tessera import: ${resolved.message}\n\n${IMPORT_USAGE}\n`)
      return 1
    }
    settings = resolved.settings
    const key = writeKeyFor(args, settings)
    if (!key.ok) return fail(key.message)
    // Seconds instead of the tracking client's retries when the server is simply not running.
    const probe = await probeServer(settings.url)
    if (!probe.ok) return fail(`cannot reach the tracking API at ${settings.url}: ${probe.reason}\nIs Tessera running at ${settings.url}? Start it with \`tessera up\`, or pass --url.`)
    client = new TrackingClient<RowRef>({
      url: settings.url,
      writeKey: key.key.key,
      onRejected: (r) => {
        const ref = r.ref ?? { line: 0, original: [] }
        const reason = r.by === 'server' ? `rejected by the server (HTTP ${r.status ?? '?'}): ${r.message}` : r.message
        rejected.push({ line: ref.line, reason, original: ref.original })
      },
    })
  }

  const mapper = new RowMapper({
    type: args.type,
    sourceId: args.source,
    fileKey: basename(args.file),
    userIdColumn: args.userIdColumn,
    emailColumn: args.emailColumn,
    eventColumn: args.eventColumn,
    timestampColumn: args.timestampColumn,
    textValues: args.format === 'csv',
  })
  let columns: readonly string[] | null = null
  let delimiter = ','
  let rowsRead = 0
  let ready = 0
  let derivedAnonymousIds = 0
  const started = Date.now()
  const progress = startProgress({ label: `Importing ${basename(args.file)}`, total: size, unit: 'bytes', stream: io.stderr })
  const summary = (rejectedFile: string | null): string => formatImportReport({
    file: args.file,
    source: args.source,
    url: settings?.url ?? null,
    rowsRead,
    accepted: client === null ? ready : client.stats.sent,
    rejected,
    retried: client?.stats.retried ?? 0,
    derivedAnonymousIds,
    seconds: (Date.now() - started) / 1000,
    rejectedFile,
  })

  try {
    const rows = readRows(args.file, {
      format: args.format,
      delimiter: args.delimiter,
      onBytes: (bytes) => progress.update(bytes),
      onHeader: (header, detected) => {
        columns = header
        delimiter = detected
        mapper.checkColumns(header)
      },
    })
    for await (const row of rows) {
      rowsRead++
      const mapped = mapRow(row, mapper, args)
      if (!mapped.ok) {
        rejected.push({ line: row.line, reason: mapped.reason, original: row.original })
        continue
      }
      ready++
      if (mapped.derivedAnonymousId) derivedAnonymousIds++
      if (client) await client.enqueue(mapped.event, { line: row.line, original: row.original })
    }
    if (client) await client.flush()
    progress.update(size)
  } catch (error) {
    progress.stop()
    const message = fatalMessage(error, args, settings)
    if (message === null) throw error
    io.stdout.write(summary(null) + '\n')
    return fail(message)
  }
  progress.stop()

  let rejectedFile: string | null = null
  if (rejected.length > 0 && !args.dryRun) {
    rejectedFile = `${args.file}.rejected.csv`
    try {
      await writeRejectedFile(rejectedFile, args.format === 'csv' ? columns : null, rejected, delimiter)
    } catch (error) {
      io.stderr.write(`tessera import: could not write ${rejectedFile}: ${(error as Error).message}\n`)
      rejectedFile = null
    }
  }
  io.stdout.write(summary(rejectedFile) + '\n')
  return rejected.length > 0 ? 2 : 0
}

function mapRow(row: ImportRow, mapper: RowMapper, args: ImportArgs): MappedRow {
  if (row.problem !== undefined || row.record === undefined) return { ok: false, reason: row.problem ?? 'unreadable row' }
  if (args.format === 'jsonl' && isSegmentCall(row.record)) {
    return { ok: true, event: segmentCall(row.record, row.line, { type: args.type, sourceId: args.source, fileKey: basename(args.file) }) }
  }
  return mapper.map(row.record, row.line)
}

type KeyResult = { readonly ok: true; readonly key: ResolvedWriteKey } | { readonly ok: false; readonly message: string }

/** `--write-key`, else the source's stored key (for `default`, `TESSERA_WRITE_KEY` first). */
function writeKeyFor(args: ImportArgs, settings: ConnectionSettings): KeyResult {
  if (args.writeKey !== undefined) return { ok: true, key: { key: args.writeKey, sourceId: args.source, origin: '--write-key' } }
  const key = args.source === 'default' ? defaultWriteKey(settings) : sourceWriteKey(settings, args.source)
  if (key) return { ok: true, key }
  if (settings.credentials === null) return { ok: false, message: `${missingCredentialsHint(settings)}, or pass --write-key` }
  const known = Object.keys(settings.credentials.writeKeys).join(', ')
  return {
    ok: false,
    message: `${settings.credentialsFile} has no write key for source "${args.source}" (it has: ${known}); ` +
      'use one of those with --source, or pass the key of a source defined in tessera.config.json with --write-key',
  }
}

/** The message for an error that ends the import, with how to fix it; null for an unexpected error (a bug). */
function fatalMessage(error: unknown, args: ImportArgs, settings: ConnectionSettings | null): string | null {
  const rerun = 'Re-running the same import is safe: rows the server already accepted are dropped as duplicates.'
  if (error instanceof ImportFileError || error instanceof ColumnMappingError) return `${args.file}: ${error.message}`
  if (isClientError(error)) return clientErrorMessage(error, args, settings?.url ?? '(unknown)', rerun)
  return null
}

function clientErrorMessage(error: ClientError, args: ImportArgs, url: string, rerun: string): string {
  switch (error.code) {
    case 'CLIENT_UNREACHABLE':
      return `${error.message}\nIs Tessera running at ${url}? Start it with \`tessera up\`, or pass --url. ${rerun}`
    case 'CLIENT_UNAUTHORIZED':
      return `${error.message}\nThe write key for source "${args.source}" does not belong to the server at ${url}: ` +
        'pass --data-dir <that server\'s data directory>, or --write-key.'
    case 'CLIENT_OVERLOADED':
      return `${error.message}\nThe server is overloaded; try again in a moment. ${rerun}`
    default:
      return `${error.message}\n${rerun}`
  }
}
