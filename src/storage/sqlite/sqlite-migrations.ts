/** @module Versioned, forward-only schema migrations of the SQLite state database (PRAGMA user_version). */
import type { SqliteDatabase } from './sqlite-database.js'

export const MIGRATIONS: readonly string[] = [
  // 1: identity graph, profiles, timeline, pipeline state
  `
  CREATE TABLE identifiers (
    key TEXT PRIMARY KEY, type TEXT NOT NULL, value TEXT NOT NULL, profile_id TEXT NOT NULL, first_seen INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX identifiers_profile ON identifiers(profile_id);
  CREATE TABLE identity_edges (
    seq INTEGER PRIMARY KEY, pair TEXT NOT NULL UNIQUE, from_key TEXT NOT NULL, to_key TEXT NOT NULL,
    rule TEXT NOT NULL, message_id TEXT NOT NULL, source_id TEXT NOT NULL, event_time INTEGER NOT NULL,
    confidence REAL NOT NULL, recorded_at INTEGER NOT NULL
  );
  CREATE INDEX identity_edges_from ON identity_edges(from_key);
  CREATE INDEX identity_edges_to ON identity_edges(to_key);
  CREATE TABLE profile_merges (
    seq INTEGER PRIMARY KEY, winner TEXT NOT NULL, loser TEXT NOT NULL, message_id TEXT NOT NULL,
    rule TEXT NOT NULL, event_time INTEGER NOT NULL, recorded_at INTEGER NOT NULL
  );
  CREATE INDEX profile_merges_winner ON profile_merges(winner);
  CREATE INDEX profile_merges_loser ON profile_merges(loser);
  CREATE TABLE identity_rejections (
    seq INTEGER PRIMARY KEY, key TEXT NOT NULL, message_id TEXT NOT NULL, reason TEXT NOT NULL,
    profile_id TEXT NOT NULL, event_time INTEGER NOT NULL, recorded_at INTEGER NOT NULL
  );
  CREATE INDEX identity_rejections_profile ON identity_rejections(profile_id);
  CREATE TABLE profiles (
    id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,
    traits TEXT NOT NULL, trait_times TEXT NOT NULL, event_count INTEGER NOT NULL, source_counts TEXT NOT NULL,
    event_counts TEXT NOT NULL, merged_into TEXT, updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX profiles_merged_into ON profiles(merged_into) WHERE merged_into IS NOT NULL;
  -- A rowid table: its rows carry the whole event (~1 KB), too large for a WITHOUT ROWID b-tree.
  CREATE TABLE profile_events (
    profile_id TEXT NOT NULL, timestamp INTEGER NOT NULL, message_id TEXT NOT NULL, source_id TEXT NOT NULL,
    type TEXT NOT NULL, name TEXT, payload TEXT NOT NULL
  );
  CREATE UNIQUE INDEX profile_events_timeline ON profile_events(profile_id, timestamp, message_id, source_id);
  CREATE TABLE dedupe_keys (key TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
  CREATE INDEX dedupe_keys_at ON dedupe_keys(at);
  CREATE TABLE sessions (key TEXT PRIMARY KEY, session_id TEXT NOT NULL, last_at INTEGER NOT NULL, started_at INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE consumer_offsets (
    group_id TEXT NOT NULL, topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
  ) WITHOUT ROWID;
  `,
  // 2: identity graph guards (supernode contacts and quarantine) and unmerge (split rules, the unmerge log)
  `
  CREATE TABLE identity_contacts (
    key TEXT NOT NULL, profile_id TEXT NOT NULL, last_at INTEGER NOT NULL, PRIMARY KEY (key, profile_id)
  ) WITHOUT ROWID;
  CREATE TABLE identity_quarantine (
    seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, profiles INTEGER NOT NULL, threshold INTEGER NOT NULL,
    window_ms INTEGER NOT NULL, cause TEXT NOT NULL, message_id TEXT NOT NULL, event_time INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL
  );
  -- Stored in both directions (a, b) and (b, a), so one indexed read finds every rule naming a key.
  CREATE TABLE identity_splits (
    a TEXT NOT NULL, b TEXT NOT NULL, unmerge_seq INTEGER NOT NULL, PRIMARY KEY (a, b)
  ) WITHOUT ROWID;
  CREATE TABLE identity_unmerges (
    seq INTEGER PRIMARY KEY, profile_id TEXT NOT NULL, kind TEXT NOT NULL, target TEXT NOT NULL,
    principal TEXT NOT NULL, reason TEXT NOT NULL, result TEXT NOT NULL, recorded_at INTEGER NOT NULL
  );
  CREATE INDEX identity_unmerges_profile ON identity_unmerges(profile_id);
  `,
  // 3: real-time probabilistic matching: profiles' match records, the persisted blocking index, the review
  // queue and do-not-link pairs
  `
  CREATE TABLE identity_match_records (profile_id TEXT PRIMARY KEY, fields TEXT NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
  CREATE TABLE identity_match_keys (key TEXT NOT NULL, profile_id TEXT NOT NULL, PRIMARY KEY (key, profile_id)) WITHOUT ROWID;
  CREATE INDEX identity_match_keys_profile ON identity_match_keys(profile_id);
  CREATE TABLE identity_review (
    seq INTEGER PRIMARY KEY, profile_a TEXT NOT NULL, profile_b TEXT NOT NULL, probability REAL NOT NULL, weight REAL NOT NULL,
    message_id TEXT NOT NULL, event_time INTEGER NOT NULL, status TEXT NOT NULL, principal TEXT, decided_at INTEGER,
    recorded_at INTEGER NOT NULL
  );
  CREATE INDEX identity_review_status ON identity_review(status, seq);
  -- Stored once per pair, a < b.
  CREATE TABLE identity_do_not_link (a TEXT NOT NULL, b TEXT NOT NULL, review_seq INTEGER NOT NULL, PRIMARY KEY (a, b)) WITHOUT ROWID;
  CREATE INDEX identity_do_not_link_b ON identity_do_not_link(b);
  `,
  // 4: control records of partitioned profile updates (the outbox of admin notices, the owners' unmerge routes and
  // trimmed counts), and split rules written by a rejected review (review_seq; unmerge_seq is then 0)
  `
  CREATE TABLE profile_outbox (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, value TEXT NOT NULL, queued_at INTEGER NOT NULL);
  CREATE TABLE profile_routes (profile_id TEXT PRIMARY KEY, unmerge_seq INTEGER NOT NULL, notice TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE profile_trimmed (profile_id TEXT PRIMARY KEY, counts TEXT NOT NULL) WITHOUT ROWID;
  ALTER TABLE identity_splits ADD COLUMN review_seq INTEGER;
  CREATE INDEX identity_splits_review ON identity_splits(review_seq) WHERE review_seq IS NOT NULL;
  `,
  // 5: the identity audit outbox: every merge, scored (probabilistic) edge and quarantine, queued by a trigger in the
  // transaction that made it, until the identity audit relay has it in the audit log (src/identity/identity-audit-relay.ts)
  `
  CREATE TABLE identity_audit_outbox (
    seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, source_seq INTEGER NOT NULL, profile_a TEXT, profile_b TEXT,
    key_a TEXT, key_b TEXT, rule TEXT, message_id TEXT NOT NULL, source_id TEXT, score REAL, profiles INTEGER,
    threshold INTEGER, window_ms INTEGER, cause TEXT, event_time INTEGER NOT NULL, recorded_at INTEGER NOT NULL
  );
  CREATE TRIGGER identity_audit_merge AFTER INSERT ON profile_merges BEGIN
    INSERT INTO identity_audit_outbox (kind, source_seq, profile_a, profile_b, rule, message_id, event_time, recorded_at)
    VALUES ('merge', NEW.seq, NEW.winner, NEW.loser, NEW.rule, NEW.message_id, NEW.event_time, NEW.recorded_at);
  END;
  CREATE TRIGGER identity_audit_match AFTER INSERT ON identity_edges WHEN NEW.rule = 'probabilistic' BEGIN
    INSERT INTO identity_audit_outbox (kind, source_seq, profile_a, key_a, key_b, rule, message_id, source_id, score, event_time, recorded_at)
    VALUES ('match', NEW.seq, (SELECT profile_id FROM identifiers WHERE key = NEW.from_key), NEW.from_key, NEW.to_key, NEW.rule,
      NEW.message_id, NEW.source_id, NEW.confidence, NEW.event_time, NEW.recorded_at);
  END;
  CREATE TRIGGER identity_audit_quarantine AFTER INSERT ON identity_quarantine BEGIN
    INSERT INTO identity_audit_outbox (kind, source_seq, profile_a, key_a, message_id, profiles, threshold, window_ms, cause, event_time, recorded_at)
    VALUES ('quarantine', NEW.seq, (SELECT profile_id FROM identifiers WHERE key = NEW.key), NEW.key, NEW.message_id, NEW.profiles,
      NEW.threshold, NEW.window_ms, NEW.cause, NEW.event_time, NEW.recorded_at);
  END;
  `,
  // 6: pseudonymous identifier keys (src/identity/identifier-codec.ts): the sealed clear value of each stored key,
  // and the state's settings (its identifier scheme, recorded once by the first process that opens it)
  `
  CREATE TABLE identifier_values (key TEXT PRIMARY KEY, sealed TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE state_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  `,
  // 7: an identifier's sealed value in its own row (appended with it, where identifier_values, keyed by a random
  // pseudonym, dirtied a random page per new identifier: most of the bytes pseudonymisation added per event);
  // identifier_values keeps the sealed values of refused keys that are no identifier
  `
  ALTER TABLE identifiers ADD COLUMN sealed TEXT;
  `,
  // 8: a profile's confidential and restricted traits, sealed under its data key (src/profiles/profile-sealing.ts);
  // the clear traits stay in traits for count filters. Timeline payloads are sealed in place (same column).
  `
  ALTER TABLE profiles ADD COLUMN sealed_traits TEXT;
  `,
  // 9: identifiers in append order. Keyed by their (random) pseudonym, each new identifier's ~250-byte row went to a
  // random page of the table: a third of the pages a batch wrote. With an increasing rowid, new rows fill the last
  // page and only the key index (~60-byte entries, four times as many per page) takes a random page per identifier.
  // (Create, copy, drop, rename; the legacy rename leaves the audit triggers, which name identifiers, as written.)
  `
  CREATE TABLE identifiers_v9 (
    seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, type TEXT NOT NULL, value TEXT NOT NULL, profile_id TEXT NOT NULL,
    first_seen INTEGER NOT NULL, sealed TEXT
  );
  INSERT INTO identifiers_v9 (key, type, value, profile_id, first_seen, sealed)
    SELECT key, type, value, profile_id, first_seen, sealed FROM identifiers ORDER BY first_seen, key;
  DROP TABLE identifiers;
  PRAGMA legacy_alter_table = ON;
  ALTER TABLE identifiers_v9 RENAME TO identifiers;
  PRAGMA legacy_alter_table = OFF;
  CREATE INDEX identifiers_profile ON identifiers(profile_id);
  `,
]

/**
 * Tables holding state derived from the log (a replay rebuilds them). The split rules and the unmerge log are
 * operators' decisions, not derived: they survive a replay, which honours the splits again; so do the review
 * queue and the do-not-link pairs.
 */
export const DERIVED_TABLES = [
  'identifiers', 'identity_edges', 'profile_merges', 'identity_rejections', 'profiles', 'profile_events',
  'dedupe_keys', 'sessions', 'consumer_offsets', 'identity_contacts', 'identity_quarantine',
  'identity_match_records', 'identity_match_keys', 'profile_outbox', 'profile_routes', 'profile_trimmed',
  'identifier_values',
  // Rows a replay truncates re-happen with the replay and are queued again (the relay's keys dedupe them).
  'identity_audit_outbox',
] as const

export function migrate(db: SqliteDatabase): void {
  const current = db.pragma('user_version', { simple: true }) as number
  if (current > MIGRATIONS.length) {
    throw new Error(`state database schema version ${current} is newer than this Tessera (${MIGRATIONS.length}); upgrade Tessera`)
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.exec('BEGIN IMMEDIATE')
    try {
      db.exec(MIGRATIONS[v]!)
      db.pragma(`user_version = ${v + 1}`)
      db.exec('COMMIT')
    } catch (cause) {
      db.exec('ROLLBACK')
      throw new Error(`state database migration ${v + 1} failed`, { cause })
    }
  }
}
