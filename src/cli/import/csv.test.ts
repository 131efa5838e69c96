import { describe, expect, it } from 'vitest'
import { CsvFormatError, CsvParser, detectDelimiter, formatCsvRow, type CsvRecord } from './csv.js'

function parse(text: string, delimiter = ',', chunkSize = text.length || 1): CsvRecord[] {
  const parser = new CsvParser({ delimiter })
  const out: CsvRecord[] = []
  for (let i = 0; i < text.length; i += chunkSize) out.push(...parser.push(text.slice(i, i + chunkSize)))
  out.push(...parser.end())
  return out
}

const fields = (records: CsvRecord[]): (readonly string[])[] => records.map((r) => r.fields)

describe('CsvParser', () => {
  it('reads plain rows with their line numbers', () => {
    expect(parse('a,b,c\n1,2,3\n')).toEqual([
      { fields: ['a', 'b', 'c'], line: 1 },
      { fields: ['1', '2', '3'], line: 2 },
    ])
  })

  it('handles quoted fields with delimiters, escaped quotes and line breaks', () => {
    const records = parse('name,note\n"Smith, Ann","said ""hi""\nand left"\nBob,x\n')
    expect(fields(records)).toEqual([['name', 'note'], ['Smith, Ann', 'said "hi"\nand left'], ['Bob', 'x']])
    expect(records.map((r) => r.line)).toEqual([1, 2, 4])
  })

  it('gives the same records whatever the chunk size', () => {
    const text = '\uFEFFid;"e""mail"\r\n1;"a\r\nb"\r\n\r\n2;"x;y"\r\n3;'
    const whole = parse(text, ';')
    expect(fields(whole)).toEqual([['id', 'e"mail'], ['1', 'a\r\nb'], ['2', 'x;y'], ['3', '']])
    expect(whole.map((r) => r.line)).toEqual([1, 2, 5, 6])
    for (const size of [1, 2, 3, 5, 7]) expect(parse(text, ';', size)).toEqual(whole)
  })

  it('strips a UTF-8 BOM only at the very start', () => {
    // (Quoted, because String#trim counts U+FEFF as white space.)
    expect(fields(parse('\uFEFFemail\n"\uFEFFx"\n'))).toEqual([['email'], ['\uFEFFx']])
  })

  it('accepts CRLF, LF and lone CR line ends', () => {
    expect(fields(parse('a,b\r\n1,2\n3,4\r5,6'))).toEqual([['a', 'b'], ['1', '2'], ['3', '4'], ['5', '6']])
    expect(parse('a\r\nb\r\nc').map((r) => r.line)).toEqual([1, 2, 3])
  })

  it('keeps empty fields and skips blank lines', () => {
    expect(fields(parse('a,,c\n,,\n\n   \n"",x\n""\n'))).toEqual([['a', '', 'c'], ['', '', ''], ['', 'x'], ['']])
  })

  it('trims spaces around unquoted fields and before/after quoted ones, but not inside quotes', () => {
    expect(fields(parse('id, email , "  name  " ,x\n'))).toEqual([['id', 'email', '  name  ', 'x']])
    const raw = new CsvParser({ delimiter: ',', trim: false })
    expect(raw.push(' a , b\n')[0]!.fields).toEqual([' a ', ' b'])
  })

  it('reports ragged rows as they are, for the caller to check against the header', () => {
    expect(fields(parse('a,b,c\n1,2\n1,2,3,4\n'))).toEqual([['a', 'b', 'c'], ['1', '2'], ['1', '2', '3', '4']])
  })

  it('flags text after a closing quote and an unclosed quote', () => {
    const records = parse('a,b\n"x"y,2\n3,"open\nstill open')
    expect(records[1]).toMatchObject({ fields: ['xy', '2'], line: 2, problem: 'unexpected text after the closing quote of field 1' })
    expect(records[2]).toMatchObject({ fields: ['3', 'open\nstill open'], line: 3, problem: 'the quoted field starting on line 3 is never closed' })
  })

  it('keeps a quote inside an unquoted field literally', () => {
    expect(fields(parse('5" screen,ok\n'))).toEqual([['5" screen', 'ok']])
  })

  it('stops on a runaway field instead of buffering the whole file', () => {
    const parser = new CsvParser({ delimiter: ',', maxFieldChars: 100 })
    parser.push('a,b\n1,"')
    expect(() => parser.push('x'.repeat(200))).toThrow(CsvFormatError)
    expect(() => new CsvParser({ delimiter: ',', maxFieldChars: 100 }).push('a,"' + 'x'.repeat(200))).toThrow(/closing quote of the field starting on line 1/)
  })

  it('rejects impossible delimiters', () => {
    expect(() => new CsvParser({ delimiter: '"' })).toThrow(RangeError)
    expect(() => new CsvParser({ delimiter: ',,' })).toThrow(RangeError)
  })
})

describe('detectDelimiter', () => {
  it('picks the most frequent candidate in the header line, outside quotes', () => {
    expect(detectDelimiter('id;email;"a,b,c"\n1;2;3')).toBe(';')
    expect(detectDelimiter('id,email,name\n1;2;3;4;5')).toBe(',')
    expect(detectDelimiter('id\temail\n')).toBe('\t')
    expect(detectDelimiter('email\nx')).toBe(',')
  })
})

describe('formatCsvRow', () => {
  it('quotes only what needs it and round-trips', () => {
    const row = ['plain', 'with,comma', 'with "quote"', 'multi\nline', ' padded ', '']
    const text = formatCsvRow(row)
    expect(text).toBe('plain,"with,comma","with ""quote""","multi\nline"," padded ",\r\n')
    expect(parse(text)[0]!.fields).toEqual(row)
  })
})
