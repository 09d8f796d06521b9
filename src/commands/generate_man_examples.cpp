// The EXAMPLES of each command's own man page (klusterctl-<command>.1), as plain text: generate_man.cpp
// escapes it for roff. Every command with a page needs at least one (tests/commands/generate_test.cpp).
#include "commands/generate.hpp"

#include <map>

namespace kluster::commands::docs {

const std::vector<Example>& commandExamples(const std::string& path) {
  static const std::map<std::string, std::vector<Example>> examples = {
      {"demo",
       {{"Try Kluster: three nodes, Kafka and PostgreSQL started here, the prompt on them (\\q removes it all):",
         "klusterctl demo"},
        {"Keep requests flowing, and watch them from a second terminal (demo prints the broker address):",
         "klusterctl demo --nodes 2 --with-load\nklusterctl monitor --brokers 127.0.0.1:PORT --cluster demo"},
        {"Run statements on a fresh cluster and exit (scripts, tests):",
         "klusterctl demo -o csv --execute \"INSERT INTO address VALUES (gen_random_uuid(), 'Breestraat', 'Leiden')\" "
         "\\\n"
         "  --execute \"SELECT street, city FROM address ORDER BY city\""}}},
      {"init",
       {{"Create the topics of a cluster named shop on a three-broker Kafka (running it again changes nothing):",
         "klusterctl init --brokers kafka1:9092,kafka2:9092,kafka3:9092 --cluster shop --replication-factor 3"}}},
      {"node run",
       {{"Run a node from its config, the database URL from the environment:",
         "KLUSTER_DATABASE_URL=postgresql://kluster@127.0.0.1/shop1 \\\n  klusterctl node run --config node1.toml"},
        {"Serve Prometheus metrics and the /health and /ready checks on port 9187:",
         "klusterctl node run --config node1.toml --metrics-address 127.0.0.1:9187\n"
         "curl -fsS http://127.0.0.1:9187/ready"},
        {"Run one node per config under systemd (the unit reads /etc/kluster/node1.toml):",
         "systemctl enable --now kluster-node@node1"}}},
      {"exec",
       {{"Change data on every node and wait until each live node answered:",
         "klusterctl exec --cluster shop --wait all \"CREATE TABLE item (id int PRIMARY KEY, name text)\""},
        {"Pass values as parameters; read from one node as JSON:",
         "klusterctl exec --cluster shop -p 42 -p pen \"INSERT INTO item VALUES ($1, $2)\"\n"
         "klusterctl exec --cluster shop -o json \"SELECT count(*) FROM item\""},
        {"Run a script a statement at a time, stopping at the first failure, or as one atomic request:",
         "klusterctl exec --cluster shop -f schema.sql\nklusterctl exec --cluster shop --tx -f migration.sql"},
        {"Open the interactive prompt:", "klusterctl exec --cluster shop"}}},
      {"config show",
       {{"Show every setting of a node and the layer it came from (secrets masked):",
         "klusterctl config show --config node1.toml"}}},
      {"config check",
       {{"Check a node's config before starting it: its values, its Kafka and its database:",
         "klusterctl config check /etc/kluster/node1.toml"},
        {"Check only the values (e.g. in a configuration-management run, without network):",
         "klusterctl config check --offline node1.toml"}}},
      {"offsets show",
       {{"List the groups' committed offsets and lag, with each node's position in its database:",
         "klusterctl offsets show --cluster shop --node-config node1.toml --node-config node2.toml"}}},
      {"offsets set",
       {{"See, then make, a stopped node's ALL group resume from an hour's position:",
         "klusterctl offsets set --cluster shop --node node2 --topic ALL --to 2026-11-26T07:00:00Z --dry-run\n"
         "klusterctl offsets set --cluster shop --node node2 --topic ALL --to 2026-11-26T07:00:00Z --yes"}}},
      {"offsets delete",
       {{"Forget a decommissioned node's ALL group:", "klusterctl offsets delete --cluster shop --node node4 --yes"}}},
      {"monitor",
       {{"Watch the cluster live; or check it once from cron or an alerting script:",
         "klusterctl monitor --cluster shop\nklusterctl monitor --cluster shop --check --max-lag 100"}}},
      {"backup",
       {{"Back up a node's database with its ALL position, stopping the node while it runs:",
         "klusterctl backup --node-config node1.toml --out /var/backups/kluster/node1 --stop-node"}}},
      {"restore",
       {{"Restore a backup into a node's (stopped) database; it catches up from the backup's position:",
         "klusterctl restore --node-config node3.toml --from /var/backups/kluster/node1"}}},
      {"verify",
       {{"Compare every table on every running node; narrow one table down to its differing rows:",
         "klusterctl verify --cluster shop\nklusterctl verify --cluster shop --table item --buckets 32"}}},
      {"security keygen", {{"Make a key for a client of the clients file:", "klusterctl security keygen"}}},
      {"security digest",
       {{"Check a clients file and print the digest `publish` records:",
         "klusterctl security digest /etc/kluster/clients.toml"}}},
      {"security publish",
       {{"Put the clients file every node has in effect at one ALL position, as the admin client ops:",
         "KLUSTER_CLIENT_ID=ops KLUSTER_CLIENT_KEY_FILE=/etc/kluster/ops.key \\\n  klusterctl security publish "
         "--cluster shop /etc/kluster/clients.toml"}}},
      {"bench exec",
       {{"Measure the latency of one exec against a running cluster:",
         "klusterctl bench exec --cluster shop --count 50"}}},
      {"bench apply",
       {{"Measure a stopped node's catch-up on 100,000 INSERTs against one plain connection:",
         "klusterctl bench apply --node-config node1.toml --rows 100000"}}},
      {"passwd",
       {{"Let user app connect to the proxy with a password (SCRAM-SHA-256), typed at the prompt:",
         "klusterctl passwd app --users-file /etc/kluster/proxy-users"},
        {"From a script: the password is one line on standard input, never an argument:",
         "printf '%s\\n' \"$APP_PASSWORD\" | klusterctl passwd app --users-file /etc/kluster/proxy-users"}}},
      {"proxy",
       {{"Serve PostgreSQL's protocol on 127.0.0.1:6432 and connect with psql:",
         "klusterctl proxy --config kluster.toml\npsql \"host=127.0.0.1 port=6432 dbname=kluster user=app "
         "sslmode=disable\""}}},
      {"bench load",
       {{"16 clients writing through ALL for 30 s, waiting for every node, with the time per stage:",
         "klusterctl bench load --cluster shop --clients 16 --duration 30s --wait all --breakdown"},
        {"A fixed rate of mixed reads and writes (open loop), as JSON:",
         "klusterctl bench load --cluster shop --workload mix --rate 2000 -o json"}}},
  };
  static const std::vector<Example> none;
  auto it = examples.find(path);
  return it == examples.end() ? none : it->second;
}

} // namespace kluster::commands::docs
