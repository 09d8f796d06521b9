// Sequences in step with the log. PostgreSQL's sequences are not transactional: nextval() in a batch that
// is rolled back (a retry, a request that failed, a crash) stays counted, on that node only, and the nodes
// would hand out different values from then on. So the adapter keeps a transactional copy of every
// sequence's state in _kluster.sequences, written with each commit (and before each savepoint), and puts
// the sequences back from it after every rollback of a write batch and on every new connection.
#include "core/db/postgres/postgres.hpp"

#include "core/log.hpp"

namespace kluster::db {

const char* const kSequenceSchema = R"(
CREATE TABLE IF NOT EXISTS _kluster.sequences (
  name        text COLLATE "C" PRIMARY KEY, -- format('%I.%I', schema, sequence)
  last_value  bigint NOT NULL,
  is_called   boolean NOT NULL
);
-- Copies the state of every sequence the node may use into _kluster.sequences (only rows that changed
-- are written); with `prune`, also forgets sequences that no longer exist (after DDL). Returns how many
-- sequences there are.
CREATE OR REPLACE FUNCTION _kluster.save_sequences(prune boolean) RETURNS int LANGUAGE plpgsql AS $f$
DECLARE s record; v bigint; c boolean; n int := 0;
BEGIN
  FOR s IN SELECT format('%I.%I', ns.nspname, cl.relname) AS name, cl.oid
           FROM pg_class cl JOIN pg_namespace ns ON ns.oid = cl.relnamespace
           WHERE cl.relkind = 'S' AND cl.relpersistence <> 't' AND ns.nspname <> '_kluster' LOOP
    -- (checked here, not in the query: the planner may call them on rows that are not sequences)
    CONTINUE WHEN NOT has_sequence_privilege(s.oid, 'SELECT,UPDATE');
    n := n + 1;
    v := pg_sequence_last_value(s.oid);
    IF v IS NOT NULL THEN -- called: last_value is the value handed out last
      c := true;
    ELSE                    -- never called since its start or a setval(..., false): read it
      EXECUTE 'SELECT last_value, is_called FROM ' || s.name INTO v, c;
    END IF;
    INSERT INTO _kluster.sequences AS m VALUES (s.name, v, c) ON CONFLICT (name) DO UPDATE
      SET last_value = EXCLUDED.last_value, is_called = EXCLUDED.is_called
      WHERE (m.last_value, m.is_called) IS DISTINCT FROM (EXCLUDED.last_value, EXCLUDED.is_called);
  END LOOP;
  IF prune THEN
    DELETE FROM _kluster.sequences m WHERE to_regclass(m.name) IS NULL;
  END IF;
  RETURN n;
END $f$;
-- Puts every sequence back to the state saved with the last commit (or the last savepoint, inside a
-- transaction). setval() is not transactional either: it holds whatever happens to the transaction.
CREATE OR REPLACE FUNCTION _kluster.restore_sequences() RETURNS int LANGUAGE plpgsql AS $f$
DECLARE m record; n int := 0;
BEGIN
  FOR m IN SELECT name, last_value, is_called FROM _kluster.sequences WHERE to_regclass(name) IS NOT NULL LOOP
    PERFORM setval(m.name::regclass, m.last_value, m.is_called);
    n := n + 1;
  END LOOP;
  RETURN n;
END $f$;
-- An interactive transaction's speculation (ONE, PgConnection::speculate) draws from every sequence what its commit
-- would draw, and keeps nothing: unlike nextval() and setval(), ALTER SEQUENCE ... RESTART is transactional (the
-- sequence gets a new file in the transaction), so the draws that follow it in the same transaction are rolled back
-- with it. A sequence restarts at the value the transaction reserved for it (`reserved`: {"schema.name": value}),
-- else at its saved state, which is the one at the snapshot's position. It holds the apply loop's nextval() on these
-- sequences only until the speculation ends (a lock_timeout bounds its waits).
CREATE OR REPLACE FUNCTION _kluster.speculate_sequences(reserved jsonb) RETURNS int LANGUAGE plpgsql AS $f$
DECLARE m record; n int := 0;
BEGIN
  FOR m IN SELECT s.name, s.last_value, s.is_called, q.seqincrement, q.seqrelid
           FROM _kluster.sequences s JOIN pg_sequence q ON q.seqrelid = to_regclass(s.name) LOOP
    EXECUTE format('ALTER SEQUENCE %s RESTART WITH %s', m.seqrelid::regclass,
                   coalesce((reserved->>m.name)::bigint,
                            CASE WHEN m.is_called THEN m.last_value + m.seqincrement ELSE m.last_value END));
    n := n + 1;
  END LOOP;
  RETURN n;
END $f$;
-- After a speculation's statements: the last value drawn from each sequence (restarted by speculate_sequences(), so
-- any value is this transaction's), for those counting by 1, which the client can reserve blocks of.
CREATE OR REPLACE FUNCTION _kluster.drawn_sequences() RETURNS jsonb LANGUAGE sql AS $f$
  SELECT coalesce(jsonb_object_agg(s.name, pg_sequence_last_value(q.seqrelid)), '{}')
  FROM _kluster.sequences s JOIN pg_sequence q ON q.seqrelid = to_regclass(s.name)
  WHERE q.seqincrement = 1 AND pg_sequence_last_value(q.seqrelid) IS NOT NULL
$f$;
-- A transaction's commit (ALL) draws from the values its client reserved: borrow_sequences() restarts each sequence
-- of `starts` there and keeps its own state aside; return_sequences(), after the request's statements, puts it back.
-- Both transactional (ALTER SEQUENCE ... RESTART), so a request that fails leaves everything as it was.
CREATE OR REPLACE FUNCTION _kluster.borrow_sequences(starts jsonb) RETURNS int LANGUAGE plpgsql AS $f$
DECLARE k text; v text; r regclass; last bigint; called boolean; inc bigint; saved jsonb := '{}'; n int := 0;
BEGIN
  FOR k, v IN SELECT * FROM jsonb_each_text(starts) LOOP
    SELECT s.seqrelid::regclass, s.seqincrement INTO r, inc
      FROM _kluster.sequences m JOIN pg_sequence s ON s.seqrelid = to_regclass(m.name) WHERE m.name = k;
    CONTINUE WHEN r IS NULL;
    EXECUTE format('SELECT last_value, is_called FROM %s', r) INTO last, called;
    saved := saved || jsonb_build_object(r::text, CASE WHEN called THEN last + inc ELSE last END);
    EXECUTE format('ALTER SEQUENCE %s RESTART WITH %s', r, v::bigint);
    n := n + 1;
  END LOOP;
  PERFORM set_config('kluster.borrowed', saved::text, true);
  RETURN n;
END $f$;
CREATE OR REPLACE FUNCTION _kluster.return_sequences() RETURNS int LANGUAGE plpgsql AS $f$
DECLARE k text; v text; n int := 0;
BEGIN
  FOR k, v IN SELECT * FROM jsonb_each_text(coalesce(nullif(current_setting('kluster.borrowed', true), ''), '{}')::jsonb)
  LOOP
    EXECUTE format('ALTER SEQUENCE %s RESTART WITH %s', k::regclass, v::bigint);
    n := n + 1;
  END LOOP;
  PERFORM set_config('kluster.borrowed', '', true);
  RETURN n;
END $f$;
)";

bool PgConnection::mayHaveSequences() const { return hasSequences_.value_or(true) || unreusableInBatch_; }

const char* PgConnection::saveSequencesSql() const {
  // After DDL, sequences may have been dropped or renamed: prune their saved state too.
  return unreusableInBatch_ ? "SELECT _kluster.save_sequences(true)" : "SELECT _kluster.save_sequences(false)";
}

void PgConnection::saveSequences() {
  ResultGuard g{PQexec(conn_, saveSequencesSql())};
  if (PQresultStatus(g.res) != PGRES_TUPLES_OK) throwFromResult(g.res, "saving the sequences' state");
  hasSequences_ = std::atoi(PQgetvalue(g.res, 0, 0)) > 0;
}

void PgConnection::restoreSequences() {
  if (!hasSequences_.value_or(true)) return;
  ResultGuard g{PQexec(conn_, "SELECT _kluster.restore_sequences()")};
  if (PQresultStatus(g.res) != PGRES_TUPLES_OK) throwFromResult(g.res, "restoring the sequences' state");
  if (const int n = std::atoi(PQgetvalue(g.res, 0, 0)); n > 0)
    KLOG(Debug, "db", "put {} sequence(s) back to their state at the last commit", n);
}

} // namespace kluster::db
