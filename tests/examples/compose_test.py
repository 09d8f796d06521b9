#!/usr/bin/env python3
"""Checks examples/compose (the ctest examples.compose).

Always: the compose file parses as YAML and has the documented layout (3 Kafka brokers in KRaft mode, 3
PostgreSQL, 3 nodes each on its own database, Prometheus scraping the nodes' metrics port), and the
klusterctl under test accepts the shared node config with each node's environment (config check --offline).
Only when a docker CLI with the compose plugin is installed: `docker compose config` validates the file.
The project's machines have no Docker: then this prints that docker compose did not run.
"""
import os
import re
import shutil
import subprocess
import sys

import yaml

klusterctl, source = sys.argv[1], sys.argv[2]
here = os.path.join(source, "examples", "compose")
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)


with open(os.path.join(here, "docker-compose.yml")) as f:
    compose = yaml.safe_load(f)
services = compose["services"]
for name in ["kafka1", "kafka2", "kafka3", "pg1", "pg2", "pg3", "init", "node1", "node2", "node3", "prometheus"]:
    check(name in services, f"no service {name}")

voters = set()
for i in (1, 2, 3):
    env = services[f"kafka{i}"]["environment"]
    check(env.get("KAFKA_PROCESS_ROLES") == "broker,controller", f"kafka{i} is not a KRaft broker+controller")
    check(str(env.get("KAFKA_NODE_ID")) == str(i), f"kafka{i} has node id {env.get('KAFKA_NODE_ID')}")
    voters.add(env.get("KAFKA_CONTROLLER_QUORUM_VOTERS"))
check(voters == {"1@kafka1:9093,2@kafka2:9093,3@kafka3:9093"}, f"the brokers disagree on the quorum: {voters}")

with open(os.path.join(here, "kluster.toml")) as f:
    toml_text = f.read()
port = re.search(r'address = "[^"]*:(\d+)"', toml_text).group(1)
databases = set()
for i in (1, 2, 3):
    node = services[f"node{i}"]
    env = node["environment"]
    url = env["KLUSTER_DATABASE_URL"]
    host = re.match(r"postgresql://[^@]*@([^:/]+)", url).group(1)
    check(host in services and host.startswith("pg"), f"node{i}'s database host {host} is not a pg service")
    databases.add(host)
    check("pg" + str(i) in node["depends_on"], f"node{i} does not wait for pg{i}")
    check(node.get("stop_signal") == "SIGTERM", f"node{i} is not stopped with SIGTERM")
    check(f"localhost:{port}/ready" in " ".join(node["healthcheck"]["test"]), f"node{i}'s health check is not /ready")
    # The real binary accepts the shared config with this node's environment.
    result = subprocess.run(
        [klusterctl, "config", "check", "--offline", os.path.join(here, "kluster.toml")],
        env={**os.environ, "KLUSTER_NODE_ID": env["KLUSTER_NODE_ID"], "KLUSTER_DATABASE_URL": url,
             "KLUSTER_SYSTEM_CONFIG": ""},
        capture_output=True, text=True)
    check(result.returncode == 0, f"config check --offline for node{i}: {result.stdout}{result.stderr}")
check(databases == {"pg1", "pg2", "pg3"}, f"the nodes do not use one database each: {databases}")

with open(os.path.join(here, "prometheus.yml")) as f:
    prometheus = yaml.safe_load(f)
targets = {t for job in prometheus["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
check(targets == {f"node{i}:{port}" for i in (1, 2, 3)}, f"Prometheus scrapes {targets}")

if failures:
    print("FAIL:\n  " + "\n  ".join(failures))
    sys.exit(1)
print("examples/compose: the layout and the node config check out")

docker = shutil.which("docker")
if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
    result = subprocess.run([docker, "compose", "-f", os.path.join(here, "docker-compose.yml"), "config", "--quiet"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        print("FAIL: docker compose config:\n" + result.stderr)
        sys.exit(1)
    print("docker compose config accepts examples/compose/docker-compose.yml")
else:
    print("docker compose is not installed here: `docker compose config` did NOT run (only the checks above did)")
