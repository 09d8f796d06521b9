"""psycopg 3 through klusterctl proxy: DDL, writes with typed parameters, reads of its own writes in text and
binary, a unique violation seen as SQLSTATE 23505, COPY ... TO STDOUT. Usage: psycopg_test.py URL TABLE. Prints OK
at the end."""
import datetime
import decimal
import sys
import uuid

import psycopg
from psycopg import errors

url, table = sys.argv[1], sys.argv[2]
with psycopg.connect(url, autocommit=True) as conn:
    conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, name text NOT NULL, amount numeric(12,2), "
                 "created timestamptz, flag boolean, uid uuid, doc jsonb)")
    when = datetime.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=datetime.timezone.utc)
    rows = [(i, f"name {i}", decimal.Decimal(f"{i}.25"), when, i % 2 == 0, uuid.UUID(int=i),
             psycopg.types.json.Jsonb({"n": i})) for i in range(1, 6)]
    with conn.cursor() as cur:
        for r in rows:
            cur.execute(f"INSERT INTO {table} VALUES (%s, %s, %s, %s, %s, %s, %s)", r)
            assert cur.rowcount == 1, cur.rowcount
        cur.execute(f"UPDATE {table} SET name = upper(name) WHERE id > %s", (3,))
        assert cur.rowcount == 2, cur.rowcount
        cur.execute(f"SELECT id, name, amount, created, flag, uid, doc FROM {table} ORDER BY id")
        got = cur.fetchall()
        assert len(got) == 5, got
        assert got[0] == (1, "name 1", decimal.Decimal("1.25"), when, False, uuid.UUID(int=1), {"n": 1}), got[0]
        assert got[4][1] == "NAME 5", got[4]
    with conn.cursor(binary=True) as cur:  # results in binary
        cur.execute(f"SELECT id, amount, created, uid FROM {table} WHERE id = %s", (2,))
        assert cur.fetchone() == (2, decimal.Decimal("2.25"), when, uuid.UUID(int=2))
    try:
        conn.execute(f"INSERT INTO {table} (id, name) VALUES (%s, %s)", (1, "again"))
        raise AssertionError("duplicate key accepted")
    except errors.UniqueViolation as e:
        assert e.sqlstate == "23505", e.sqlstate
    # Prepared after a few executions (psycopg's prepare_threshold): still right.
    for i in range(6, 12):
        conn.execute(f"INSERT INTO {table} (id, name) VALUES (%s, %s)", (i, f"n{i}"))
    assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 11
    # COPY ... TO STDOUT (cursor.copy): the lines PostgreSQL writes, in text and CSV, and rows read back from them.
    with conn.cursor() as cur:
        with cur.copy(f"COPY (SELECT id, name, amount FROM {table} WHERE id <= %s ORDER BY id) TO STDOUT", (2,)) as cp:
            data = b"".join(cp)
        assert data == b"1\tname 1\t1.25\n2\tname 2\t2.25\n", data
        with cur.copy(f"COPY {table} (id, amount) TO STDOUT (FORMAT csv, HEADER)") as cp:
            lines = sorted(b"".join(cp).decode().splitlines())
        assert lines[-1] == "id,amount" and lines[0] == "1,1.25" and "11," in lines, lines
        with cur.copy(f"COPY (SELECT id, amount, doc FROM {table} WHERE id = 3) TO STDOUT") as cp:
            cp.set_types(["int4", "numeric", "jsonb"])
            assert list(cp.rows()) == [(3, decimal.Decimal("3.25"), {"n": 3})]
print("OK")
