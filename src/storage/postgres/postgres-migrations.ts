/**
 * @module Versioned, forward-only schema migrations of the PostgreSQL state store, recorded in
 * `<schema>.tessera_schema_migrations`. They run on start; a session-level `pg_advisory_lock` keyed by the
 * schema name makes two processes that start at once (the API process and a pipeline worker, or two
 * workers) take turns, so the second one finds the schema already at the current version.
 */
import { TesseraError } from '../../core/errors.js'
import type { PostgresClient, PostgresPool } from './postgres-pool.js'
import { rollbackAfter, run, toStoreError } from './postgres-query.js'

/** The advisory-lock namespace of Tessera's identity locks (`'tess'` as an int4); see postgres-identity-store.ts. */
export const PROFILE_LOCK_NAMESPACE = 0x74657373

export const MIGRATIONS: readonly string[] = [
  // 1: identity graph, profiles, timeline, pipeline state (mirrors sqlite-migrations.ts, version 1)
  `
  CREATE TABLE identifiers (
    key text COLLATE "C" PRIMARY KEY, type text NOT NULL, value text NOT NULL, profile_id text COLLATE "C" NOT NULL,
    first_seen bigint NOT NULL
  );
  CREATE INDEX identifiers_profile ON identifiers (profile_id);
  CREATE TABLE identity_edges (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, pair text COLLATE "C" NOT NULL UNIQUE,
    from_key text COLLATE "C" NOT NULL, to_key text COLLATE "C" NOT NULL, rule text NOT NULL, message_id text NOT NULL,
    source_id text NOT NULL, event_time bigint NOT NULL, confidence double precision NOT NULL, recorded_at bigint NOT NULL
  );
  CREATE INDEX identity_edges_from ON identity_edges (from_key);
  CREATE INDEX identity_edges_to ON identity_edges (to_key);
  CREATE TABLE profile_merges (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, winner text COLLATE "C" NOT NULL, loser text COLLATE "C" NOT NULL,
    message_id text NOT NULL, rule text NOT NULL, event_time bigint NOT NULL, recorded_at bigint NOT NULL
  );
  CREATE INDEX profile_merges_winner ON profile_merges (winner);
  CREATE INDEX profile_merges_loser ON profile_merges (loser);
  CREATE TABLE identity_rejections (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, key text NOT NULL, message_id text NOT NULL, reason text NOT NULL,
    profile_id text COLLATE "C" NOT NULL, event_time bigint NOT NULL, recorded_at bigint NOT NULL
  );
  CREATE INDEX identity_rejections_profile ON identity_rejections (profile_id);
  CREATE TABLE profiles (
    id text COLLATE "C" PRIMARY KEY, created_at bigint NOT NULL, first_seen bigint NOT NULL, last_seen bigint NOT NULL,
    traits jsonb NOT NULL, trait_times jsonb NOT NULL, event_count bigint NOT NULL, source_counts jsonb NOT NULL,
    event_counts jsonb NOT NULL, merged_into text COLLATE "C", updated_at bigint NOT NULL
  );
  CREATE INDEX profiles_merged_into ON profiles (merged_into) WHERE merged_into IS NOT NULL;
  CREATE TABLE profile_events (
    profile_id text COLLATE "C" NOT NULL, timestamp bigint NOT NULL, message_id text COLLATE "C" NOT NULL,
    source_id text COLLATE "C" NOT NULL, type text NOT NULL, name text, payload text NOT NULL
  );
  CREATE UNIQUE INDEX profile_events_timeline ON profile_events (profile_id, timestamp, message_id, source_id);
  CREATE TABLE dedupe_keys (key text COLLATE "C" PRIMARY KEY, at bigint NOT NULL);
  CREATE INDEX dedupe_keys_at ON dedupe_keys (at);
  CREATE TABLE sessions (
    key text COLLATE "C" PRIMARY KEY, session_id text NOT NULL, last_at bigint NOT NULL, started_at bigint NOT NULL
  );
  CREATE TABLE consumer_offsets (
    group_id text NOT NULL, topic text NOT NULL, partition integer NOT NULL, next_offset bigint NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
  );
  -- The identity lookup of a pipeline batch, with its locks (see postgres-identity-store.ts): advisory locks
  -- on the identifier keys in hash order, then on the owning profiles in hash order, re-reading the owners
  -- until no concurrent merge moved them. One round trip; the locks are held until the transaction ends.
  CREATE FUNCTION tessera_lookup_identifiers(p_keys text[]) RETURNS TABLE (out_key text, out_profile text)
  LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
  DECLARE
    key_lock bigint;
    profile_lock integer;
    pending text[];
    locked text[] := ARRAY[]::text[];
  BEGIN
    FOR key_lock IN SELECT DISTINCT hashtextextended(k, 0) FROM unnest(p_keys) AS k ORDER BY 1 LOOP
      PERFORM pg_advisory_xact_lock(key_lock);
    END LOOP;
    LOOP
      SELECT coalesce(array_agg(DISTINCT i.profile_id), ARRAY[]::text[]) INTO pending
        FROM identifiers AS i WHERE i.key = ANY (p_keys) AND NOT (i.profile_id = ANY (locked));
      EXIT WHEN cardinality(pending) = 0;
      FOR profile_lock IN SELECT DISTINCT hashtext(p) FROM unnest(pending) AS p ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(${PROFILE_LOCK_NAMESPACE}, profile_lock);
      END LOOP;
      locked := locked || pending;
    END LOOP;
    RETURN QUERY SELECT i.key::text, i.profile_id::text FROM identifiers AS i WHERE i.key = ANY (p_keys);
  END
  $fn$;
  `,
  // 2: identity graph guards and unmerge (mirrors sqlite-migrations.ts, version 2)
  `
  CREATE TABLE identity_contacts (
    key text COLLATE "C" NOT NULL, profile_id text COLLATE "C" NOT NULL, last_at bigint NOT NULL, PRIMARY KEY (key, profile_id)
  );
  CREATE TABLE identity_quarantine (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, key text COLLATE "C" NOT NULL UNIQUE, profiles integer NOT NULL,
    threshold integer NOT NULL, window_ms bigint NOT NULL, cause text NOT NULL, message_id text NOT NULL,
    event_time bigint NOT NULL, recorded_at bigint NOT NULL
  );
  CREATE TABLE identity_splits (
    a text COLLATE "C" NOT NULL, b text COLLATE "C" NOT NULL, unmerge_seq bigint NOT NULL, PRIMARY KEY (a, b)
  );
  CREATE TABLE identity_unmerges (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, profile_id text COLLATE "C" NOT NULL, kind text NOT NULL,
    target text NOT NULL, principal text NOT NULL, reason text NOT NULL, result jsonb NOT NULL, recorded_at bigint NOT NULL
  );
  CREATE INDEX identity_unmerges_profile ON identity_unmerges (profile_id);
  `,
  // 3: real-time probabilistic matching (mirrors sqlite-migrations.ts, version 3)
  `
  CREATE TABLE identity_match_records (profile_id text COLLATE "C" PRIMARY KEY, fields text NOT NULL, updated_at bigint NOT NULL);
  CREATE TABLE identity_match_keys (
    key text COLLATE "C" NOT NULL, profile_id text COLLATE "C" NOT NULL, PRIMARY KEY (key, profile_id)
  );
  CREATE INDEX identity_match_keys_profile ON identity_match_keys (profile_id);
  CREATE TABLE identity_review (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, profile_a text COLLATE "C" NOT NULL, profile_b text COLLATE "C" NOT NULL,
    probability double precision NOT NULL, weight double precision NOT NULL, message_id text NOT NULL, event_time bigint NOT NULL,
    status text NOT NULL, principal text, decided_at bigint, recorded_at bigint NOT NULL
  );
  CREATE INDEX identity_review_status ON identity_review (status, seq);
  CREATE TABLE identity_do_not_link (
    a text COLLATE "C" NOT NULL, b text COLLATE "C" NOT NULL, review_seq bigint NOT NULL, PRIMARY KEY (a, b)
  );
  CREATE INDEX identity_do_not_link_b ON identity_do_not_link (b);
  `,
  // 4: control records of partitioned profile updates and review split rules (mirrors sqlite-migrations.ts, version 4)
  `
  CREATE TABLE profile_outbox (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, key text COLLATE "C" NOT NULL, value text NOT NULL, queued_at bigint NOT NULL
  );
  CREATE TABLE profile_routes (profile_id text COLLATE "C" PRIMARY KEY, unmerge_seq bigint NOT NULL, notice text NOT NULL);
  CREATE TABLE profile_trimmed (profile_id text COLLATE "C" PRIMARY KEY, counts text NOT NULL);
  ALTER TABLE identity_splits ADD COLUMN review_seq bigint;
  CREATE INDEX identity_splits_review ON identity_splits (review_seq) WHERE review_seq IS NOT NULL;
  `,
  // 5: the identity audit outbox (mirrors sqlite-migrations.ts, version 5), filled by statement-level triggers over
  // the transition tables (one INSERT ... SELECT per batch statement, not one per row)
  `
  CREATE TABLE identity_audit_outbox (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind text NOT NULL, source_seq bigint NOT NULL,
    profile_a text COLLATE "C", profile_b text COLLATE "C", key_a text COLLATE "C", key_b text COLLATE "C", rule text,
    message_id text NOT NULL, source_id text, score double precision, profiles integer, threshold integer, window_ms bigint,
    cause text, event_time bigint NOT NULL, recorded_at bigint NOT NULL
  );
  CREATE FUNCTION identity_audit_merge() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
  BEGIN
    INSERT INTO identity_audit_outbox (kind, source_seq, profile_a, profile_b, rule, message_id, event_time, recorded_at)
    SELECT 'merge', n.seq, n.winner, n.loser, n.rule, n.message_id, n.event_time, n.recorded_at FROM fresh AS n ORDER BY n.seq;
    RETURN NULL;
  END
  $fn$;
  CREATE TRIGGER identity_audit_merge AFTER INSERT ON profile_merges REFERENCING NEW TABLE AS fresh
    FOR EACH STATEMENT EXECUTE FUNCTION identity_audit_merge();
  CREATE FUNCTION identity_audit_match() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
  BEGIN
    INSERT INTO identity_audit_outbox (kind, source_seq, profile_a, key_a, key_b, rule, message_id, source_id, score, event_time, recorded_at)
    SELECT 'match', n.seq, (SELECT i.profile_id FROM identifiers AS i WHERE i.key = n.from_key), n.from_key, n.to_key, n.rule,
      n.message_id, n.source_id, n.confidence, n.event_time, n.recorded_at
    FROM fresh AS n WHERE n.rule = 'probabilistic' ORDER BY n.seq;
    RETURN NULL;
  END
  $fn$;
  CREATE TRIGGER identity_audit_match AFTER INSERT ON identity_edges REFERENCING NEW TABLE AS fresh
    FOR EACH STATEMENT EXECUTE FUNCTION identity_audit_match();
  CREATE FUNCTION identity_audit_quarantine() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
  BEGIN
    INSERT INTO identity_audit_outbox (kind, source_seq, profile_a, key_a, message_id, profiles, threshold, window_ms, cause, event_time, recorded_at)
    SELECT 'quarantine', n.seq, (SELECT i.profile_id FROM identifiers AS i WHERE i.key = n.key), n.key, n.message_id, n.profiles,
      n.threshold, n.window_ms, n.cause, n.event_time, n.recorded_at
    FROM fresh AS n ORDER BY n.seq;
    RETURN NULL;
  END
  $fn$;
  CREATE TRIGGER identity_audit_quarantine AFTER INSERT ON identity_quarantine REFERENCING NEW TABLE AS fresh
    FOR EACH STATEMENT EXECUTE FUNCTION identity_audit_quarantine();
  `,
  // 6: pseudonymous identifier keys and the state's settings (mirrors sqlite-migrations.ts, version 6)
  `
  CREATE TABLE identifier_values (key text PRIMARY KEY, sealed text NOT NULL);
  CREATE TABLE state_meta (name text PRIMARY KEY, value text NOT NULL);
  `,
  // 7: an identifier's sealed value in its own row (mirrors sqlite-migrations.ts, version 7)
  `
  ALTER TABLE identifiers ADD COLUMN sealed text;
  `,
  // 8: sealed confidential and restricted traits (mirrors sqlite-migrations.ts, version 8)
  `
  ALTER TABLE profiles ADD COLUMN sealed_traits text;
  `,
]

/** Tables holding state derived from the log (a replay rebuilds them); splits and unmerges are kept (sqlite-migrations.ts). */
export const DERIVED_TABLES = [
  'identifiers', 'identity_edges', 'profile_merges', 'identity_rejections', 'profiles', 'profile_events',
  'dedupe_keys', 'sessions', 'consumer_offsets', 'identity_contacts', 'identity_quarantine',
  'identity_match_records', 'identity_match_keys', 'profile_outbox', 'profile_routes', 'profile_trimmed',
  'identity_audit_outbox', 'identifier_values',
] as const

/** Creates the schema if needed and applies the missing migrations, one transaction each. */
export async function migrate(pool: PostgresPool, schema: string): Promise<void> {
  let client: PostgresClient
  try {
    client = await pool.connect()
  } catch (error) {
    throw toStoreError(error, 'connect to run the migrations')
  }
  let broken = false
  const onError = (): void => {
    broken = true
  }
  client.on('error', onError)
  const lockId = `tessera-migrations:${schema}`
  try {
    await run(client, 'lock the migrations', 'SELECT pg_advisory_lock(hashtextextended($1, 0))', [lockId])
    try {
      await run(client, 'create the schema', `CREATE SCHEMA IF NOT EXISTS ${schema}; SET search_path TO ${schema}`)
      await run(client, 'create the migrations table',
        'CREATE TABLE IF NOT EXISTS tessera_schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())')
      const { rows } = await run<{ v: number | null }>(client, 'read the schema version', 'SELECT max(version) AS v FROM tessera_schema_migrations')
      const current = rows[0]?.v ?? 0
      if (current > MIGRATIONS.length) {
        throw new TesseraError('TESSERA_STORE',
          `state schema ${schema} is at version ${current}, newer than this Tessera (${MIGRATIONS.length}); upgrade Tessera`)
      }
      for (let v = current; v < MIGRATIONS.length; v++) await applyOne(client, v + 1, MIGRATIONS[v]!)
    } finally {
      if (!broken) await run(client, 'unlock the migrations', 'SELECT pg_advisory_unlock(hashtextextended($1, 0))', [lockId])
    }
  } catch (error) {
    broken = true
    throw error
  } finally {
    client.off('error', onError)
    // A session-level advisory lock dies with its connection: discard the client if anything went wrong.
    client.release(broken)
  }
}

async function applyOne(client: PostgresClient, version: number, sql: string): Promise<void> {
  await run(client, 'begin a migration', 'BEGIN')
  try {
    await run(client, `apply migration ${version}`, sql)
    await run(client, 'record a migration', 'INSERT INTO tessera_schema_migrations (version) VALUES ($1)', [version])
    await run(client, 'commit a migration', 'COMMIT')
  } catch (cause) {
    throw await rollbackAfter(client, new TesseraError('TESSERA_STORE', `state schema migration ${version} failed`, { cause }))
  }
}
