"""Interactive transactions through klusterctl proxy, with psycopg 3's defaults (autocommit off: every statement
runs in a transaction the driver opens) and SQLAlchemy 2.0's ORM. Usage: transactions_test.py URL CASE, CASE one of:

  defaults     an INSERT then a SELECT in one transaction sees its own row; a rollback leaves nothing
  lost-update  16 clients each read a counter and write it + 1, retrying on 40001; prints commits and retries
  write-skew   two transactions each read what the other writes; the second commit answers 40001
  orm          SQLAlchemy: create_all, a session that adds, flushes, queries, updates and commits, begin_nested(),
               a rollback
  orm-serial   16 ORM clients insert rows with SERIAL keys (RETURNING) in transactions; prints the retry rate

Prints OK (and a line of figures) at the end; exits non-zero on a failed check."""
import sys
import threading
import time

import psycopg
from psycopg import errors

url, case = sys.argv[1], sys.argv[2]


def run_clients(clients, client):
    """Runs client(k) for k in 0..clients-1, each on a thread of its own; fails with what any of them raised."""
    failures = []

    def guarded(k):
        try:
            client(k)
        except Exception as e:  # reported by the main thread
            failures.append(repr(e))

    threads = [threading.Thread(target=guarded, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures


def retrying(conn, work, tries=100):
    """Runs work(cur) in a transaction until it commits; returns how many times it was retried."""
    for attempt in range(tries):
        try:
            with conn.cursor() as cur:
                work(cur)
            conn.commit()
            return attempt
        except errors.SerializationFailure:
            conn.rollback()
    raise AssertionError(f"no commit in {tries} tries")


def defaults():
    with psycopg.connect(url) as conn:  # autocommit off, as psycopg's default
        conn.execute("CREATE TABLE tx_items (id int PRIMARY KEY, name text)")
        conn.commit()
        conn.execute("INSERT INTO tx_items VALUES (1, 'one')")
        assert conn.execute("SELECT name FROM tx_items WHERE id = 1").fetchone() == ("one",)
        cur = conn.execute("UPDATE tx_items SET name = 'uno' WHERE id = 1 RETURNING name")
        assert cur.fetchone() == ("uno",)
        conn.commit()
        conn.execute("INSERT INTO tx_items VALUES (2, 'two')")
        assert conn.execute("SELECT count(*) FROM tx_items").fetchone() == (2,)
        conn.rollback()
        assert conn.execute("SELECT count(*) FROM tx_items").fetchone() == (1,)
        conn.rollback()
        try:  # an error aborts the transaction: the rest is refused until the rollback
            conn.execute("INSERT INTO tx_items VALUES (1, 'again')")
            raise AssertionError("duplicate key accepted")
        except errors.UniqueViolation:
            pass
        try:
            conn.execute("SELECT 1")
            raise AssertionError("statement accepted in an aborted transaction")
        except errors.InFailedSqlTransaction:
            conn.rollback()
    print("OK")


def lost_update():
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE tx_counter (id int PRIMARY KEY, n int NOT NULL)")
        conn.execute("INSERT INTO tx_counter VALUES (1, 0)")
    clients, each = 16, 5
    retries = [0] * clients

    def client(k):
        with psycopg.connect(url) as conn:
            def increment(cur):
                cur.execute("SELECT n FROM tx_counter WHERE id = 1")
                (n,) = cur.fetchone()
                cur.execute("UPDATE tx_counter SET n = %s WHERE id = 1", (n + 1,))
            for _ in range(each):
                retries[k] += retrying(conn, increment)

    run_clients(clients, client)
    # The caller checks that every node's counter equals the commits (a new connection may read a node that has
    # not applied the last ones yet).
    print(f"commits {clients * each} retries {sum(retries)}")
    print("OK")


def write_skew():
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE tx_doctors (id int PRIMARY KEY, on_call boolean NOT NULL)")
        conn.execute("INSERT INTO tx_doctors VALUES (1, true), (2, true)")
    with psycopg.connect(url) as alice, psycopg.connect(url) as bob:
        # Each may go off call only if someone else stays on call: under snapshot isolation both would.
        for conn in (alice, bob):
            assert conn.execute("SELECT count(*) FROM tx_doctors WHERE on_call").fetchone() == (2,)
        alice.execute("UPDATE tx_doctors SET on_call = false WHERE id = 1")
        bob.execute("UPDATE tx_doctors SET on_call = false WHERE id = 2")
        alice.commit()
        try:
            bob.commit()
            raise AssertionError("write skew: both transactions committed")
        except errors.SerializationFailure as e:
            assert e.sqlstate == "40001", e.sqlstate
        bob.rollback()
        # Alice reads her own commit; Bob's retry sees it too, and stays on call.
        assert alice.execute("SELECT count(*) FROM tx_doctors WHERE on_call").fetchone() == (1,)
        alice.rollback()
    print("OK")


def orm_engine():
    from sqlalchemy import create_engine
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))


def orm():
    from sqlalchemy import ForeignKey, String, select
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

    class Base(DeclarativeBase):
        pass

    class Author(Base):
        __tablename__ = "orm_authors"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(50))
        books: Mapped[list["Book"]] = relationship(back_populates="author")

    class Book(Base):
        __tablename__ = "orm_books"
        id: Mapped[int] = mapped_column(primary_key=True)
        title: Mapped[str] = mapped_column(String(100))
        author_id: Mapped[int] = mapped_column(ForeignKey("orm_authors.id"))
        author: Mapped[Author] = relationship(back_populates="books")

    engine = orm_engine()
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        ada = Author(name="Ada")
        session.add(ada)
        session.flush()  # INSERT ... RETURNING id, in the transaction
        assert ada.id is not None
        session.add_all([Book(title="Notes", author=ada), Book(title="Letters", author=ada)])
        session.flush()
        found = session.scalars(select(Book).where(Book.author_id == ada.id).order_by(Book.title)).all()
        assert [b.title for b in found] == ["Letters", "Notes"], found
        found[0].title = "Letters, revised"
        session.commit()
    with Session(engine) as session:
        ada = session.scalars(select(Author).where(Author.name == "Ada")).one()
        nested = session.begin_nested()  # SAVEPOINT
        session.add(Book(title="Draft", author=ada))
        session.flush()
        nested.rollback()  # ROLLBACK TO SAVEPOINT: the draft goes
        session.add(Book(title="Poems", author=ada))
        session.commit()
    with Session(engine) as session:
        session.add(Author(name="Nobody"))
        session.flush()
        session.rollback()
    with Session(engine) as session:
        titles = session.scalars(select(Book.title).order_by(Book.title)).all()
        assert titles == ["Letters, revised", "Notes", "Poems"], titles
        assert session.scalars(select(Author.name)).all() == ["Ada"]
    print("OK")


def orm_serial():
    from sqlalchemy import String
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

    class Base(DeclarativeBase):
        pass

    class Event(Base):
        __tablename__ = "orm_events"
        id: Mapped[int] = mapped_column(primary_key=True)  # SERIAL
        what: Mapped[str] = mapped_column(String(50))

    engine = orm_engine()
    Base.metadata.create_all(engine)
    clients, each = 16, 10
    retries = [0] * clients

    def client(k):
        for i in range(each):
            for attempt in range(100):
                try:
                    with Session(engine) as session:
                        event = Event(what=f"client {k} event {i}")
                        session.add(event)
                        session.flush()
                        assert event.id is not None
                        session.commit()
                    break
                except OperationalError as e:
                    if getattr(e.orig, "sqlstate", None) != "40001":
                        raise
                    retries[k] += 1
            else:
                raise AssertionError("no commit in 100 tries")

    run_clients(clients, client)
    from sqlalchemy import func, select
    commits = clients * each
    for _ in range(300):  # a pooled connection may read a node that has not applied the last commits yet
        with Session(engine) as session:
            count = session.scalar(select(func.count()).select_from(Event))
            distinct = session.scalar(select(func.count(func.distinct(Event.id))))
        if count == commits:
            break
        time.sleep(0.1)
    assert count == commits and distinct == commits, (count, distinct)
    print(f"commits {commits} retries {sum(retries)} retry rate {sum(retries) / (commits + sum(retries)):.3f}")
    print("OK")


{"defaults": defaults, "lost-update": lost_update, "write-skew": write_skew, "orm": orm, "orm-serial": orm_serial}[case]()
