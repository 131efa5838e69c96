/**
 * @module Test helper: a model trained (unsupervised, the real training code) on the seeded synthetic population,
 * with columns named like profile traits (`given`, `surname`, `dob`, `city`), for real-time matching tests.
 */
import { parseMatchConfig } from '../match-config.js'
import { trainModel, type MatchModel } from '../train.js'
import { makeRecord, population } from './synthetic.js'

export const TRAIT_MATCH_CONFIG = { id: 'id', columns: { given: 'given_name', surname: 'surname', dob: 'dob', city: 'city' } }

let cached: MatchModel | undefined

export function trainedPersonModel(): MatchModel {
  if (cached) return cached
  const config = parseMatchConfig(TRAIT_MATCH_CONFIG)
  const { raw } = population(3000, 600, 11)
  const records = raw.map((values, i) => makeRecord(config, `r${i}`, values))
  cached = trainModel(config, records, null).model
  return cached
}
