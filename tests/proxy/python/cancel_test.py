"""CancelRequest through klusterctl proxy, from psycopg 3: a read in flight on ONE (pg_sleep) is cancelled
with conn.cancel() from another thread; the client gets SQLSTATE 57014 well before the read would end, and
the connection keeps working. Usage: cancel_test.py URL. Prints OK at the end."""
import sys
import threading
import time

import psycopg
from psycopg import errors

with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    assert conn.execute("SELECT 1").fetchone() == (1,)
    for attempt in range(2):  # twice: the connection is healthy after the first
        timer = threading.Timer(0.5, conn.cancel)
        timer.start()
        started = time.monotonic()
        try:
            conn.execute("SELECT pg_sleep(5)")
            raise AssertionError("the read was not cancelled")
        except errors.QueryCanceled as e:
            assert e.sqlstate == "57014", e.sqlstate
        finally:
            timer.join()
        elapsed = time.monotonic() - started
        assert elapsed < 4, f"cancelled after {elapsed:.1f} s"
        assert conn.execute("SELECT %s::int + 1", (attempt,)).fetchone() == (attempt + 1,)
print("OK")
