/** @module Command line of `tessera import`: options, defaults, and the usage text shown on mistakes. */
import { parseArgs } from 'node:util'
import { CSV_DELIMITERS, isCsvDelimiter } from './csv.js'
import { IMPORT_FORMATS, formatOfFile, type ImportFormat } from './read-rows.js'
import { IMPORT_TYPES, type ImportType } from './row-mapping.js'

export const IMPORT_USAGE = `Usage: tessera import <file.csv|file.jsonl> --source <source-id> [options]

Sends the rows of a CSV or JSONL file to Tessera's tracking API, as calls from one source.
CSV rows become identify calls (userId/user_id/id -> userId, email -> traits.email, phone,
firstName, lastName, name, company, ... -> traits); with --type track, track calls whose
event name comes from a column and whose other columns become properties. JSONL lines are
Segment calls (objects with a "type") or flat objects mapped like CSV rows. A row without
userId or anonymousId (which the tracking API requires) but with an e-mail or phone gets a
stable anonymousId derived from it, the same on every import of that contact.

Options:
  --source <id>             source the rows belong to; its write key is read from the
                            credentials of \`tessera up\` (web, mobile, crm, iot, default)
  --write-key <key>         use this write key instead (visible to other local users in
                            the process list; prefer the credentials file)
  --url <url>               server (default http://127.0.0.1:$TESSERA_PORT or :3000)
  --data-dir <dir>          where credentials.json is ($TESSERA_DATA_DIR or ./data)
  --type identify|track     call to make from each row (default identify)
  --user-id-column <name>   column holding userId (default: userId, user_id or id)
  --email-column <name>     column holding the e-mail (default: email, e-mail, email_address)
  --event-column <name>     column holding the event name, with --type track (default: event)
  --timestamp-column <name> column holding the event time (default: timestamp)
  --delimiter <d>           CSV delimiter: , ; tab | (default: detected from the header)
  --format csv|jsonl        file format (default: from the extension)
  --dry-run                 read and check the file, send nothing
  -h, --help                show this text

Exit status: 0 all rows accepted, 2 some rows rejected (see <file>.rejected.csv),
1 the import could not run (missing file, bad options, server unreachable, key refused).`

export interface ImportArgs {
  readonly file: string
  readonly format: ImportFormat
  readonly source: string
  readonly url: string | undefined
  readonly dataDir: string | undefined
  readonly writeKey: string | undefined
  readonly type: ImportType
  readonly userIdColumn: string | undefined
  readonly emailColumn: string | undefined
  readonly eventColumn: string | undefined
  readonly timestampColumn: string | undefined
  readonly delimiter: string | undefined
  readonly dryRun: boolean
}

export type ParsedImportArgs =
  | { readonly kind: 'run'; readonly args: ImportArgs }
  | { readonly kind: 'help' }
  | { readonly kind: 'error'; readonly message: string }

/** Parses the arguments after `import`; a mistake is a value with the message to show above the usage. */
export function parseImportArgs(argv: readonly string[]): ParsedImportArgs {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        source: { type: 'string' },
        'write-key': { type: 'string' },
        url: { type: 'string' },
        'data-dir': { type: 'string' },
        type: { type: 'string' },
        'user-id-column': { type: 'string' },
        'email-column': { type: 'string' },
        'event-column': { type: 'string' },
        'timestamp-column': { type: 'string' },
        delimiter: { type: 'string' },
        format: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
  } catch (error) {
    // parseArgs throws TypeError with a precise message (unknown option, missing value): that is the answer.
    return { kind: 'error', message: (error as Error).message }
  }
  const { values, positionals } = parsed
  if (values.help) return { kind: 'help' }
  if (positionals.length === 0) return { kind: 'error', message: 'missing the file to import' }
  if (positionals.length > 1) return { kind: 'error', message: `one file at a time, got ${positionals.length}: ${positionals.join(' ')}` }
  const file = positionals[0]!
  if (values.source === undefined || values.source.trim() === '') return { kind: 'error', message: '--source is required (e.g. --source crm)' }
  const type = values.type ?? 'identify'
  if (!(IMPORT_TYPES as readonly string[]).includes(type)) return { kind: 'error', message: `--type must be ${IMPORT_TYPES.join(' or ')}, got ${JSON.stringify(type)}` }
  if (values['event-column'] !== undefined && type !== 'track') return { kind: 'error', message: '--event-column only applies with --type track' }
  let format: ImportFormat | null
  if (values.format !== undefined) {
    if (!(IMPORT_FORMATS as readonly string[]).includes(values.format)) return { kind: 'error', message: `--format must be ${IMPORT_FORMATS.join(' or ')}, got ${JSON.stringify(values.format)}` }
    format = values.format as ImportFormat
  } else {
    format = formatOfFile(file)
    if (format === null) return { kind: 'error', message: `cannot tell the format of ${file} from its extension; pass --format csv or --format jsonl` }
  }
  let delimiter = values.delimiter
  if (delimiter !== undefined) {
    if (delimiter === 'tab' || delimiter === '\\t') delimiter = '\t'
    if (!isCsvDelimiter(delimiter)) {
      return { kind: 'error', message: `--delimiter must be one of ${CSV_DELIMITERS.map((d) => (d === '\t' ? 'tab' : d)).join(' ')}, got ${JSON.stringify(values.delimiter)}` }
    }
  } else if (file.toLowerCase().endsWith('.tsv')) delimiter = '\t'
  return {
    kind: 'run',
    args: {
      file,
      format,
      source: values.source.trim(),
      url: values.url,
      dataDir: values['data-dir'],
      writeKey: values['write-key'],
      type: type as ImportType,
      userIdColumn: values['user-id-column'],
      emailColumn: values['email-column'],
      eventColumn: values['event-column'],
      timestampColumn: values['timestamp-column'],
      delimiter,
      dryRun: values['dry-run'],
    },
  }
}
