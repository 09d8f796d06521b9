"""asyncpg through klusterctl proxy: asyncpg describes each statement before it binds it and sends every
parameter, and asks for every result, in the binary format of the described types. DDL, typed writes,
executemany, its own writes read back, a unique violation seen as SQLSTATE 23505.
Usage: asyncpg_test.py URL TABLE. Prints OK at the end."""
import asyncio
import datetime
import decimal
import sys
import uuid

import asyncpg


async def main(url, table):
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"CREATE TABLE {table} (id int PRIMARY KEY, big bigint, name text NOT NULL, "
                           "amount numeric(12,2), at timestamptz, flag boolean, uid uuid, data bytea, doc jsonb)")
        when = datetime.datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=datetime.timezone.utc)
        insert = f"INSERT INTO {table} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        for i in range(1, 5):
            status = await conn.execute(insert, i, 10**10 + i, f"name {i}", decimal.Decimal(f"{i}.25"),
                                        when + datetime.timedelta(hours=i), i % 2 == 0, uuid.UUID(int=i),
                                        bytes([0, i, 255]), f'{{"n": {i}}}')
            assert status == "INSERT 0 1", status
        await conn.executemany(f"INSERT INTO {table} (id, name) VALUES ($1, $2)",
                               [(i, f"many {i}") for i in range(5, 8)])
        status = await conn.execute(f"UPDATE {table} SET flag = NOT flag WHERE id BETWEEN $1 AND $2", 3, 4)
        assert status == "UPDATE 2", status

        row = await conn.fetchrow(f"SELECT id, big, name, amount, at, flag, uid, data, doc FROM {table} WHERE id = $1", 2)
        assert tuple(row) == (2, 10**10 + 2, "name 2", decimal.Decimal("2.25"), when + datetime.timedelta(hours=2),
                              True, uuid.UUID(int=2), bytes([0, 2, 255]), '{"n": 2}'), tuple(row)
        flags = await conn.fetch(f"SELECT flag FROM {table} WHERE id <= $1 ORDER BY id", 4)
        assert [r["flag"] for r in flags] == [False, True, True, False], flags
        many = await conn.fetch(f"SELECT id, name FROM {table} WHERE name LIKE $1 ORDER BY id", "many%")
        assert [(r["id"], r["name"]) for r in many] == [(5, "many 5"), (6, "many 6"), (7, "many 7")], many
        # A statement's description before it runs: parameter and column types from a node.
        stmt = await conn.prepare(f"SELECT amount, at FROM {table} WHERE id = $1 AND name <> $2")
        assert [t.name for t in stmt.get_parameters()] == ["int4", "text"], stmt.get_parameters()
        assert [(a.name, a.type.name) for a in stmt.get_attributes()] == [("amount", "numeric"),
                                                                           ("at", "timestamptz")]
        assert await stmt.fetchval(3, "x") == decimal.Decimal("3.25")
        try:
            await conn.execute(f"INSERT INTO {table} (id, name) VALUES ($1, $2)", 1, "again")
            raise AssertionError("duplicate key accepted")
        except asyncpg.UniqueViolationError as e:
            assert e.sqlstate == "23505", e.sqlstate
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 7
    finally:
        await conn.close()
    print("OK")


asyncio.run(main(sys.argv[1], sys.argv[2]))
