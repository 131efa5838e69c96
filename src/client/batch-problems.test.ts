import { describe, expect, it } from 'vitest'
import { describeProblems, parseErrorAnswer, problemsByEvent } from './batch-problems.js'

describe('parseErrorAnswer', () => {
  it('reads the documented error body', () => {
    const answer = parseErrorAnswer(JSON.stringify({
      success: false, code: 'TESSERA_VALIDATION', message: '.batch[1].userId: is required', field: '.batch[1].userId',
      problems: [{ field: '.batch[1].userId', message: 'is required' }],
    }), 400)
    expect(answer.code).toBe('TESSERA_VALIDATION')
    expect(answer.problems).toEqual([{ field: '.batch[1].userId', message: 'is required' }])
  })
  it('turns a lone field + message into one problem', () => {
    expect(parseErrorAnswer('{"message":"bad","field":".batch[0].type"}', 400).problems).toEqual([{ field: '.batch[0].type', message: 'bad' }])
  })
  it('keeps a non-JSON body as the message', () => {
    expect(parseErrorAnswer('<html>Bad Gateway</html>', 502).message).toBe('<html>Bad Gateway</html>')
    expect(parseErrorAnswer('', 400).message).toBe('HTTP 400')
  })
})

describe('problemsByEvent', () => {
  it('understands the field spellings the server may use', () => {
    const byIndex = problemsByEvent([
      { field: '.batch[2].userId', message: 'a' },
      { field: '.batch.0.traits.email', message: 'b' },
      { field: '/batch/2/event', message: 'c' },
      { field: 'batch[1]', message: 'd' },
      { field: '.sentAt', message: 'not an event' },
      { field: '.batch[9].userId', message: 'out of range' },
    ], 3)
    expect(byIndex.get(0)).toEqual([{ field: '.traits.email', message: 'b' }])
    expect(byIndex.get(1)).toEqual([{ field: '.', message: 'd' }])
    expect(byIndex.get(2)).toEqual([{ field: '.userId', message: 'a' }, { field: '/event', message: 'c' }])
    expect(byIndex.size).toBe(3)
  })
})

describe('describeProblems', () => {
  it('does not repeat a field the message already names', () => {
    expect(describeProblems([{ field: '.userId', message: '.batch[4].userId: is required' }, { field: '.event', message: 'must be a string' }]))
      .toBe('.userId: is required; .event: must be a string')
  })
})
