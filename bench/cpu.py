#!/usr/bin/env python3
"""CPU time per process around a command, for bench/compare.sh's pgbench setups (bench load measures its own).

  cpu.py run --out FILE [--pid NAME=PID]... -- CMD [ARGS...]
      Samples the CPU time (utime + stime + cutime + cstime of /proc/PID/stat, summed over the process and its
      descendants, found by their ppid) of every NAME=PID and the machine's busy time (/proc/stat), runs CMD,
      samples again, and writes {"seconds", "processes": [{"name", "pids", "cpu_us"}], "machine_us"} to FILE,
      the command's own CPU (with its children) as process "client". Exits with CMD's status.
  cpu.py window --out FILE --until T [--pid NAME=PID]...
      The same samples, from now until T (seconds since the epoch), without a command: what the processes named
      used in that window (for a client already running, name it "client").
  cpu.py per-write --writes N FILE
      Rewrites FILE (as `run` wrote it) in the shape of `bench load -o json`'s "cpu": per-write figures added.
  cpu.py merge OUT FILE...
      Sums several measurements (files of `per-write`, or bench load JSON outputs with their "cpu") into one,
      per process name: the CPU of two half-runs over their writes together.
Linux only; the same accounting as src/core/bench/cpu.cpp.
"""
import json
import os
import subprocess
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def proc_stats():
    """pid -> (ppid, ticks with reaped children) of every process now."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                text = f.read()
        except OSError:
            continue  # ended meanwhile
        fields = text[text.rindex(")") + 2 :].split()  # fields[0] is the state (field 3)
        out[int(entry)] = (int(fields[1]), sum(int(x) for x in fields[11:15]))
    return out


def tree_ticks(root, stats):
    children = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    if root not in stats:
        return 0
    todo, total = [root], 0
    while todo:
        pid = todo.pop()
        total += stats[pid][1]
        todo.extend(c for c in children.get(pid, []) if c != pid)
    return total


def machine_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7]  # user nice system irq softirq steal


def sample(targets):
    stats = proc_stats()
    return {name: sum(tree_ticks(p, stats) for p in pids) for name, pids in targets.items()}, machine_ticks()


def us(ticks):
    return ticks * 1e6 / HZ


def run(args, window=False):
    out, targets, i, until = None, {}, 0, None
    while i < len(args) and args[i] != "--":
        if args[i] == "--out":
            out, i = args[i + 1], i + 2
        elif window and args[i] == "--until":
            until, i = float(args[i + 1]), i + 2
        elif args[i] == "--pid":
            name, _, pid = args[i + 1].partition("=")
            if not name or not pid.isdigit():
                sys.exit(f"cpu.py: --pid {args[i + 1]}: expected NAME=PID")
            targets.setdefault(name, []).append(int(pid))
            i += 2
        else:
            sys.exit(f"cpu.py run: unknown argument {args[i]}")
    if window:
        if not out or until is None or i != len(args):
            sys.exit("usage: cpu.py window --out FILE --until T [--pid NAME=PID]...")
        t0 = time.monotonic()
        first, m0 = sample(targets)
        time.sleep(max(until - time.time(), 0))
        last, m1 = sample(targets)
        with open(out, "w") as f:
            json.dump({"seconds": time.monotonic() - t0, "processes": measured(targets, first, last),
                       "machine_us": us(max(m1 - m0, 0))}, f)
        return 0
    cmd = args[i + 1 :]
    if not out or not cmd:
        sys.exit("usage: cpu.py run --out FILE [--pid NAME=PID]... -- CMD [ARGS...]")
    t0 = time.monotonic()
    first, m0 = sample(targets)
    child = subprocess.Popen(cmd)
    _, status, rusage = os.wait4(child.pid, 0)
    last, m1 = sample(targets)
    seconds = time.monotonic() - t0
    processes = measured(targets, first, last)
    processes.append(
        {"name": "client", "pids": [child.pid], "cpu_us": (rusage.ru_utime + rusage.ru_stime) * 1e6}
    )
    with open(out, "w") as f:
        json.dump({"seconds": seconds, "processes": processes, "machine_us": us(max(m1 - m0, 0))}, f)
    return os.waitstatus_to_exitcode(status)


def measured(targets, first, last):
    return [{"name": n, "pids": targets[n], "cpu_us": us(max(last[n] - first[n], 0))} for n in targets]


def shaped(processes, machine_us, writes, seconds, kafka_requests=None):
    """The shape of bench load's "cpu"."""
    per = (lambda x: x / writes) if writes > 0 else (lambda x: 0)
    named = sum(p["cpu_us"] for p in processes)
    return {
        "kafka_requests_per_write": per(kafka_requests) if kafka_requests is not None else None,
        "writes": writes,
        "seconds": seconds,
        "processes": [
            dict(p, cores=p["cpu_us"] / 1e6 / seconds if seconds else 0, us_per_write=per(p["cpu_us"]))
            for p in processes
        ],
        "total_us_per_write": per(named),
        "machine_us": machine_us,
        "machine_us_per_write": per(machine_us),
        "unattributed_us_per_write": per(max(machine_us - named, 0)),
    }


def per_write(args):
    if len(args) != 3 or args[0] != "--writes":
        sys.exit("usage: cpu.py per-write --writes N FILE")
    with open(args[2]) as f:
        m = json.load(f)
    with open(args[2], "w") as f:
        json.dump(shaped(m["processes"], m["machine_us"], int(args[1]), m["seconds"]), f)
    return 0


def merge(args):
    if len(args) < 2:
        sys.exit("usage: cpu.py merge OUT FILE...")
    order, cpu, pids, writes, seconds, machine, kafka = [], {}, {}, 0, 0.0, 0.0, 0.0
    for path in args[1:]:
        with open(path) as f:
            m = json.load(f)
        m = m.get("cpu", m) if "processes" not in m else m
        if not m:
            sys.exit(f"cpu.py merge: {path} has no CPU measurement")
        writes += m["writes"]
        seconds += m["seconds"]
        machine += m.get("machine_us", m["machine_us_per_write"] * m["writes"])
        k = m.get("kafka_requests_per_write")
        kafka = None if k is None or kafka is None else kafka + k * m["writes"]
        for p in m["processes"]:
            if p["name"] not in cpu:
                order.append(p["name"])
                cpu[p["name"]], pids[p["name"]] = 0.0, []
            cpu[p["name"]] += p["cpu_us"]
            pids[p["name"]] += [x for x in p["pids"] if x not in pids[p["name"]]]
    processes = [{"name": n, "pids": pids[n], "cpu_us": cpu[n]} for n in order]
    with open(args[0], "w") as f:
        json.dump(shaped(processes, machine, writes, seconds, kafka), f)
    return 0


if __name__ == "__main__":
    commands = {"run": run, "window": lambda a: run(a, window=True), "per-write": per_write, "merge": merge}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    sys.exit(commands[sys.argv[1]](sys.argv[2:]))
