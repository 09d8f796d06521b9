"""asyncpg (binary protocol, described statements) through klusterctl proxy. Usage: asyncpg_test.py URL TABLE."""
import asyncio
import datetime
import decimal
import sys
import uuid

import asyncpg


async def main(url, table):
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"CREATE TABLE {table} (id bigint PRIMARY KEY, name varchar(40) NOT NULL, "
                           "amount numeric, score double precision, day date, created timestamptz, uid uuid, "
                           "data bytea, flag boolean)")
        when = datetime.datetime(2024, 5, 6, 7, 8, 9, 500000, tzinfo=datetime.timezone.utc)
        for i in range(1, 6):
            status = await conn.execute(
                f"INSERT INTO {table} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", i, f"row {i}",
                decimal.Decimal(f"{i}.5"), i / 4, datetime.date(2024, 1, i), when, uuid.UUID(int=i), bytes([i, 0, 255]),
                i % 2 == 1)
            assert status == "INSERT 0 1", status
        rows = await conn.fetch(f"SELECT * FROM {table} WHERE id <= $1 ORDER BY id", 5)
        assert len(rows) == 5, rows
        r = rows[2]
        assert (r["id"], r["name"], r["amount"], r["score"], r["day"], r["created"], r["uid"], r["data"], r["flag"]) == (
            3, "row 3", decimal.Decimal("3.5"), 0.75, datetime.date(2024, 1, 3), when, uuid.UUID(int=3),
            bytes([3, 0, 255]), True), r
        assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 5
        try:
            await conn.execute(f"INSERT INTO {table} (id, name) VALUES ($1, $2)", 1, "again")
            raise AssertionError("duplicate key accepted")
        except asyncpg.UniqueViolationError as e:
            assert e.sqlstate == "23505", e.sqlstate
    finally:
        await conn.close()
    print("OK")


asyncio.run(main(sys.argv[1], sys.argv[2]))
