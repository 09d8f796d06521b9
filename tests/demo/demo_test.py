#!/usr/bin/env python3
"""Acceptance tests of `klusterctl demo` with real services (Kafka, PostgreSQL 15, nodes).

  prompt   in a pseudo-terminal: wait for the prompt, type a write and a read, see the answer, \\q; then
           nothing the demo started runs (its reported pids, any process naming its directory) and its
           temporary directory is gone
  execute  --execute twice and a failing third: the output of the first two, exit 1, nothing left
  kill     in a pseudo-terminal, SIGKILL the demo at its prompt: its guardian stops everything and removes
           the directory
  mariadb  --db mariadb in a pseudo-terminal: 3 nodes on one MariaDB server; every node answers a query on ALL
           (klusterctl exec from outside), a write and a join at the prompt, then \\q stops everything
"""
import json
import argparse
import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

START_DEADLINE = 240  # s: Kafka alone takes 10-20 s on an idle machine; this one is shared
STOP_DEADLINE = 120


def fail(message, output=""):
    if output:
        sys.stderr.write("---- demo output ----\n" + output + "\n---------------------\n")
    sys.stderr.write("FAIL: " + message + "\n")
    sys.exit(1)


def test_env():
    env = dict(os.environ)
    env["KLUSTER_HISTORY"] = ""  # leave the user's ~/.kluster_history alone
    env.pop("KLUSTER_SOURCE_DIR", None)  # the binary must find its own source tree
    return env


class Pty:
    """klusterctl demo on a pseudo-terminal, as a person runs it."""

    def __init__(self, argv):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execve(argv[0], argv, test_env())
            finally:
                os._exit(127)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
        self.output = ""
        self.status = None

    def read_until(self, pattern, deadline_s, start=0):
        """Reads until `pattern` (a regex) appears in the output after `start`; returns the match."""
        deadline = time.monotonic() + deadline_s
        while True:
            m = re.search(pattern, self.output[start:])
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                fail(f"no {pattern!r} within {deadline_s} s", self.output)
            ready, _, _ = select.select([self.fd], [], [], min(left, 1.0))
            if ready:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:  # EIO: the demo closed the terminal (it exited)
                    data = b""
                if not data:
                    fail(f"the demo ended before {pattern!r} appeared", self.output)
                self.output += data.decode("utf-8", "replace")

    def type(self, text):
        os.write(self.fd, text.encode())

    def wait(self, deadline_s):
        """Waits for the demo to exit (draining its output); returns its exit status."""
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.status = os.waitstatus_to_exitcode(status)
                return self.status
            ready, _, _ = select.select([self.fd], [], [], 0.2)
            if ready:
                try:
                    self.output += os.read(self.fd, 65536).decode("utf-8", "replace")
                except OSError:
                    pass
        os.kill(self.pid, signal.SIGKILL)
        fail(f"the demo did not exit within {deadline_s} s", self.output)


def reported(output):
    """The pids and directory the demo reported on its start."""
    m = re.search(r"demo: processes: kafka ([\d ]+), (?:postgres|mariadb) ([\d ]+), nodes ([\d ]+)(?:, load (\d+))?",
                  output)
    d = re.search(r"demo: files in (\S+) \(removed at exit\)", output)
    if not m or not d:
        fail("the demo did not report its processes and directory", output)
    pids = {"kafka": m.group(1).split(), "database": m.group(2).split(), "nodes": m.group(3).split()}
    if m.group(4):
        pids["load"] = [m.group(4)]
    return {k: [int(p) for p in v] for k, v in pids.items()}, d.group(1)


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return None


def processes_naming(directory):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            cmd = cmdline(int(entry))
            if cmd and directory in cmd:
                found.append(f"{entry}: {cmd[:200]}")
    return found


def check_running(pids, directory, output):
    for kind, list_ in pids.items():
        for pid in list_:
            if cmdline(pid) is None:
                fail(f"{kind} pid {pid} reported by the demo is not running", output)
    if not os.path.isdir(directory):
        fail(f"{directory} does not exist while the demo runs", output)


def check_gone(pids, directory, output, deadline_s=0):
    """Nothing the demo started runs and its directory is gone (waiting up to deadline_s for it)."""
    deadline = time.monotonic() + deadline_s
    while True:
        left = []
        for kind, list_ in pids.items():
            for pid in list_:
                cmd = cmdline(pid)
                # a pid taken again by an unrelated process does not count
                if cmd is not None and (directory in cmd or kind == "nodes" and "klusterctl" in cmd):
                    left.append(f"{kind} {pid}: {cmd[:200]}")
        left += processes_naming(directory)
        if os.path.exists(directory):
            left.append(f"directory {directory}")
        if not left:
            return
        if time.monotonic() >= deadline:
            fail("left behind:\n  " + "\n  ".join(left), output)
        time.sleep(0.5)


def test_prompt(klusterctl):
    demo = Pty([klusterctl, "demo", "--nodes", "2", "--with-load"])
    demo.read_until(r"demo=> ", START_DEADLINE)
    pids, directory = reported(demo.output)
    if "load" not in pids:
        fail("--with-load: no load process reported", demo.output)
    if not re.search(r"klusterctl monitor --brokers 127\.0\.0\.1:\d+ --cluster demo", demo.output):
        fail("the demo did not print how to run monitor against it", demo.output)
    check_running(pids, directory, demo.output)

    mark = len(demo.output)
    demo.type("INSERT INTO address (id, street, city)\n"
              "  VALUES ('9f1e2d3c-4b5a-4968-8776-655443322110', 'Breestraat', 'Leiden');\n")
    demo.read_until(r"demo=> ", 60, mark)
    mark = len(demo.output)
    demo.type("SELECT upper(a.city) || '!' AS shout, p.lastName FROM address a LEFT JOIN person p "
              "ON p.addressId = a.id WHERE a.street = 'Breestraat' OR p.lastName = 'Duck' ORDER BY 1;\n")
    # neither value was typed: both come from the nodes (the second from the demo's example rows)
    demo.read_until(r"DUCKSTAD!\s*\|?\s*Duck", 60, mark)
    demo.read_until(r"LEIDEN!", 60, mark)
    demo.read_until(r"demo=> ", 60, mark)
    demo.type("\\q\n")
    status = demo.wait(STOP_DEADLINE)
    if status != 0:
        fail(f"the demo exited with {status} after \\q", demo.output)
    check_gone(pids, directory, demo.output)
    print(f"prompt: ok ({directory} gone, {sum(len(v) for v in pids.values())} processes stopped)")


def test_execute(klusterctl):
    run = subprocess.run(
        [klusterctl, "demo", "--nodes", "2", "-o", "csv",
         "--execute", "INSERT INTO address VALUES ('9f1e2d3c-4b5a-4968-8776-655443322110', 'Breestraat', 'Leiden')",
         "--execute", "SELECT a.city, p.lastName FROM address a LEFT JOIN person p ON p.addressId = a.id ORDER BY 1",
         "--execute", "SELECT * FROM no_such_table",
         "--execute", "INSERT INTO address VALUES ('0f1e2d3c-4b5a-4968-8776-655443322110', 'Never', 'Sent')"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=test_env(), timeout=START_DEADLINE + STOP_DEADLINE)
    output = run.stdout + run.stderr
    pids, directory = reported(run.stderr)
    expected = "city,lastname\nDorpje,de Gallier\nDuckstad,Duck\nGent,Klaassen\nLeiden,\n"
    if expected not in run.stdout:
        fail(f"the SELECT's CSV {expected!r} is not in the output", output)
    if "Sent" in run.stdout or "UNDEFINED_OBJECT" not in run.stderr:
        fail("the failing statement was not reported, or a statement after it ran", output)
    if run.returncode != 1:
        fail(f"exit status {run.returncode}, expected 1 (an error response)", output)
    check_gone(pids, directory, output)
    print(f"execute: ok ({directory} gone)")


def test_kill(klusterctl):
    demo = Pty([klusterctl, "demo", "--nodes", "2"])
    demo.read_until(r"demo=> ", START_DEADLINE)
    pids, directory = reported(demo.output)
    check_running(pids, directory, demo.output)
    os.kill(demo.pid, signal.SIGKILL)
    demo.wait(10)
    check_gone(pids, directory, demo.output, deadline_s=STOP_DEADLINE)
    print(f"kill: ok (the guardian removed {directory})")


def test_mariadb(klusterctl):
    demo = Pty([klusterctl, "demo", "--db", "mariadb"])
    demo.read_until(r"demo=> ", START_DEADLINE)
    pids, directory = reported(demo.output)
    if not re.search(r"demo: processes: kafka [\d ]+, mariadb \d+, nodes \d+ \d+ \d+\r?\n", demo.output):
        fail("the demo did not report one MariaDB server and three nodes", demo.output)
    check_running(pids, directory, demo.output)
    if "mariadbd" not in (cmdline(pids["database"][0]) or ""):
        fail(f"pid {pids['database'][0]} reported as MariaDB is not a mariadbd", demo.output)
    brokers = re.search(r"klusterctl monitor --brokers (\S+) --cluster demo", demo.output).group(1)

    # Every node answers, from its own database, with the example rows the demo loaded through ALL.
    run = subprocess.run(
        [klusterctl, "exec", "--brokers", brokers, "--cluster", "demo", "--to", "ALL", "--wait", "all", "-o", "json",
         "--timeout", "30s", "SELECT count(*) AS people, sum(CASE WHEN lastName = 'Klaassen' THEN 1 ELSE 0 END) AS klaassen FROM person"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=test_env(), timeout=60)
    if run.returncode != 0:
        fail(f"exec on ALL exited with {run.returncode}: {run.stdout} {run.stderr}", demo.output)
    responses = json.loads(run.stdout)
    nodes = sorted(r["nodeId"] for r in responses)
    if nodes != ["node1", "node2", "node3"]:
        fail(f"the nodes that answered: {nodes}", run.stdout)
    for r in responses:
        row = r["result"][0]
        if r["resultCode"] != "OK" or str(row["people"]) != "3" or str(row["klaassen"]) != "1":
            fail(f"{r['nodeId']} answered {r['resultCode']} {row}", run.stdout)

    mark = len(demo.output)
    demo.type("INSERT INTO address (id, street, city)\n"
              "  VALUES ('9f1e2d3c-4b5a-4968-8776-655443322110', 'Breestraat', 'Leiden');\n")
    demo.read_until(r"demo=> ", 60, mark)
    mark = len(demo.output)
    # CONCAT, not ||: MariaDB's || is OR unless sql_mode says PIPES_AS_CONCAT
    demo.type("SELECT concat(upper(a.city), '!') AS shout, p.lastName FROM address a LEFT JOIN person p "
              "ON p.addressId = a.id WHERE a.street = 'Breestraat' OR p.lastName = 'Duck' ORDER BY 1;\n")
    demo.read_until(r"DUCKSTAD!\s*\|?\s*Duck", 60, mark)
    demo.read_until(r"LEIDEN!", 60, mark)
    demo.read_until(r"demo=> ", 60, mark)
    demo.type("\\q\n")
    status = demo.wait(STOP_DEADLINE)
    if status != 0:
        fail(f"the demo exited with {status} after \\q", demo.output)
    if "demo: stopping the nodes, Kafka and MariaDB" not in demo.output:
        fail("the demo did not say it stops MariaDB", demo.output)
    check_gone(pids, directory, demo.output)
    print(f"mariadb: ok (3 nodes answered; {directory} gone, {sum(len(v) for v in pids.values())} processes stopped)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--klusterctl", required=True)
    parser.add_argument("case", choices=["prompt", "execute", "kill", "mariadb"])
    args = parser.parse_args()
    {"prompt": test_prompt, "execute": test_execute, "kill": test_kill, "mariadb": test_mariadb}[args.case](
        args.klusterctl)


if __name__ == "__main__":
    main()
