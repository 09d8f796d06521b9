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
-- Copies the state of every sequence the node may use into _kluster.sequences (only rows that changed are
-- written: a sequence whose state is the one saved is skipped, without the upsert that would lock its row); with
-- `prune`, also forgets sequences that no longer exist (after DDL). Returns how many sequences there are.
CREATE OR REPLACE FUNCTION _kluster.save_sequences(prune boolean) RETURNS int LANGUAGE plpgsql AS $f$
DECLARE s record; v bigint; c boolean; n int := 0;
BEGIN
  FOR s IN SELECT q.name, q.oid, m.last_value AS saved, m.is_called AS saved_called
           FROM (SELECT format('%I.%I', ns.nspname, cl.relname) COLLATE "C" AS name, cl.oid
                 FROM pg_class cl JOIN pg_namespace ns ON ns.oid = cl.relnamespace
                 WHERE cl.relkind = 'S' AND cl.relpersistence <> 't' AND ns.nspname <> '_kluster') q
           LEFT JOIN _kluster.sequences m ON m.name = q.name LOOP
    -- (checked here, not in the query: the planner may call them on rows that are not sequences)
    CONTINUE WHEN NOT has_sequence_privilege(s.oid, 'SELECT,UPDATE');
    n := n + 1;
    v := pg_sequence_last_value(s.oid);
    IF v IS NOT NULL THEN -- called: last_value is the value handed out last
      c := true;
    ELSE                    -- never called since its start or a setval(..., false): read it
      EXECUTE 'SELECT last_value, is_called FROM ' || s.name INTO v, c;
    END IF;
    CONTINUE WHEN s.saved = v AND s.saved_called = c;
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
-- Code that may draw from a sequence, or run anything: a function that is not built in (Kluster's own aside),
-- unless compiled and not volatile (an extension's operators, say).
CREATE OR REPLACE FUNCTION _kluster.runs_user_code(f oid) RETURNS boolean LANGUAGE sql STABLE AS $f$
  SELECT f >= 16384 AND EXISTS (SELECT 1 FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
                                WHERE p.oid = f AND p.pronamespace <> '_kluster'::regnamespace
                                  AND (l.lanname NOT IN ('c', 'internal') OR p.provolatile = 'v'))
$f$;
-- The sequences that statements writing `tables` (names quoted as in SQL) and calling `functions` (by name) may
-- draw from, as far as the catalog tells without running them; NULL when it cannot tell (then any). A statement
-- draws from a sequence by nextval() or setval() (pg_proc 1574, 1576, 1765) in its text, in code it runs (functions,
-- triggers, rules and views, operators, casts), or in a DEFAULT, CHECK or index of a table it writes, or of one that
-- a key's ON DELETE/UPDATE action writes in turn.
CREATE OR REPLACE FUNCTION _kluster.sequences_in_scope(tables text[], functions text[]) RETURNS oid[]
LANGUAGE plpgsql STABLE AS $f$
DECLARE draws constant text := ':funcid (1574|1576|1765) '; t text; r oid; def record; scope oid[] := '{}';
BEGIN
  IF tables IS NULL THEN RETURN NULL; END IF;
  IF EXISTS (SELECT 1 FROM pg_proc p WHERE p.proname = ANY (functions)
             AND (p.oid IN (1574, 1576, 1765) OR _kluster.runs_user_code(p.oid)))
     OR EXISTS (SELECT 1 FROM pg_operator o WHERE o.oid >= 16384 AND _kluster.runs_user_code(o.oprcode))
     OR EXISTS (SELECT 1 FROM pg_cast c WHERE c.oid >= 16384 AND _kluster.runs_user_code(c.castfunc))
     OR EXISTS (SELECT 1 FROM pg_rewrite w WHERE w.ev_class >= 16384 AND w.ev_action::text ~ draws)
     OR EXISTS (SELECT 1 FROM pg_depend dp WHERE dp.classid = 'pg_rewrite'::regclass AND dp.objid >= 16384
                AND dp.refclassid = 'pg_proc'::regclass AND dp.refobjid >= 16384
                AND _kluster.runs_user_code(dp.refobjid)) THEN
    RETURN NULL;
  END IF;
  FOREACH t IN ARRAY tables LOOP
    r := to_regclass(t);
    IF r IS NULL THEN RETURN NULL; END IF;
    -- a plain table: no rules, children, policies or triggers of its own, no key whose action writes another table,
    -- no column of a domain (its DEFAULT and CHECKs), and no DEFAULT, CHECK or index that runs user code
    IF NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = r AND relkind = 'r' AND NOT relhasrules AND NOT relhassubclass
                   AND NOT relrowsecurity)
       OR EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = r AND NOT tgisinternal)
       OR EXISTS (SELECT 1 FROM pg_constraint WHERE confrelid = r AND contype = 'f'
                  AND (confupdtype NOT IN ('a', 'r') OR confdeltype NOT IN ('a', 'r')))
       OR EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
                  WHERE a.attrelid = r AND a.attnum > 0 AND NOT a.attisdropped AND ty.typtype = 'd')
       OR EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = r AND conbin::text ~ draws)
       OR EXISTS (SELECT 1 FROM pg_depend dp WHERE dp.refclassid = 'pg_proc'::regclass
                  AND _kluster.runs_user_code(dp.refobjid)
                  AND ((dp.classid = 'pg_attrdef'::regclass AND dp.objid IN (SELECT oid FROM pg_attrdef WHERE adrelid = r))
                    OR (dp.classid = 'pg_constraint'::regclass AND dp.objid IN (SELECT oid FROM pg_constraint WHERE conrelid = r))
                    OR (dp.classid = 'pg_class'::regclass AND dp.objid IN (SELECT indexrelid FROM pg_index WHERE indrelid = r))))
       OR EXISTS (SELECT 1 FROM pg_index WHERE indrelid = r
                  AND (coalesce(indexprs::text, '') ~ draws OR coalesce(indpred::text, '') ~ draws)) THEN
      RETURN NULL;
    END IF;
    -- its DEFAULTs that draw: each call names its sequence as a constant, recorded as a dependency (a name computed
    -- when the DEFAULT runs is not: then any)
    FOR def IN SELECT ad.oid, ad.adbin::text AS tree, ARRAY(SELECT dp.refobjid FROM pg_depend dp JOIN pg_class s ON s.oid = dp.refobjid
                                                      WHERE dp.classid = 'pg_attrdef'::regclass AND dp.objid = ad.oid
                                                        AND dp.refclassid = 'pg_class'::regclass AND s.relkind = 'S') AS seqs
             FROM pg_attrdef ad WHERE ad.adrelid = r AND ad.adbin::text ~ draws LOOP
      IF (SELECT count(*) FROM regexp_matches(def.tree, draws, 'g')) > cardinality(def.seqs) THEN RETURN NULL; END IF;
      scope := scope || def.seqs;
    END LOOP;
    -- its identity columns' sequences
    scope := scope || ARRAY(SELECT dp.objid FROM pg_depend dp JOIN pg_class s ON s.oid = dp.objid
                            WHERE dp.classid = 'pg_class'::regclass AND dp.refclassid = 'pg_class'::regclass
                              AND dp.refobjid = r AND dp.deptype = 'i' AND s.relkind = 'S');
  END LOOP;
  RETURN scope;
END $f$;
-- An interactive transaction's speculation (ONE, PgConnection::speculate) draws from sequences what its commit would
-- draw, and keeps nothing: unlike nextval() and setval(), ALTER SEQUENCE ... RESTART is transactional (the sequence
-- gets a new file in the transaction), so the draws that follow it in the same transaction are rolled back with it.
-- It restarts the sequences its statements may draw from (sequences_in_scope(); all of them when it cannot tell),
-- each at the value the transaction reserved for it (`reserved`: {"schema.name": value}), else at its saved state,
-- which is the one at the snapshot's position. It holds the apply loop's nextval() on these sequences only until the
-- speculation ends (a lock_timeout bounds its waits). drawn_sequences() then reads what was drawn from them.
DROP FUNCTION IF EXISTS _kluster.speculate_sequences(jsonb); -- before the scope (databases of older nodes)
CREATE OR REPLACE FUNCTION _kluster.speculate_sequences(reserved jsonb, tables text[], functions text[])
RETURNS int LANGUAGE plpgsql AS $f$
DECLARE m record; n int := 0; scope oid[]; restarted oid[] := '{}';
BEGIN
  IF EXISTS (SELECT 1 FROM _kluster.sequences) THEN scope := _kluster.sequences_in_scope(tables, functions); END IF;
  FOR m IN SELECT s.name, s.last_value, s.is_called, q.seqincrement, q.seqrelid
           FROM _kluster.sequences s JOIN pg_sequence q ON q.seqrelid = to_regclass(s.name)
           WHERE scope IS NULL OR q.seqrelid = ANY (scope) LOOP
    EXECUTE format('ALTER SEQUENCE %s RESTART WITH %s', m.seqrelid::regclass,
                   coalesce((reserved->>m.name)::bigint,
                            CASE WHEN m.is_called THEN m.last_value + m.seqincrement ELSE m.last_value END));
    restarted := restarted || m.seqrelid;
    n := n + 1;
  END LOOP;
  PERFORM set_config('kluster.speculated', restarted::text, true);
  RETURN n;
END $f$;
-- After a speculation's statements: the last value drawn from each sequence it restarted (so any value is this
-- transaction's), for those counting by 1, which the client can reserve blocks of.
CREATE OR REPLACE FUNCTION _kluster.drawn_sequences() RETURNS jsonb LANGUAGE sql AS $f$
  SELECT coalesce(jsonb_object_agg(s.name, pg_sequence_last_value(q.seqrelid)), '{}')
  FROM _kluster.sequences s JOIN pg_sequence q ON q.seqrelid = to_regclass(s.name)
  WHERE q.seqincrement = 1 AND pg_sequence_last_value(q.seqrelid) IS NOT NULL
    AND q.seqrelid = ANY (coalesce(nullif(current_setting('kluster.speculated', true), ''), '{}')::oid[])
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
