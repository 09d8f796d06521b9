// A small program using Kluster's client library: creates a table on every node, writes rows with
// parameters (all in flight at once), then reads them back from one node.
//
//   cmake --build build --target example_client
//   build/examples/client/example_client --brokers 127.0.0.1:9092 --cluster kluster
//
// It talks only to Kafka: the nodes apply the writes to their databases and answer.
#include "core/client/client.hpp"
#include "core/errors.hpp"

#include <fmt/format.h>

#include <cstring>
#include <iostream>

using namespace kluster;

int main(int argc, char** argv) {
  client::ClientOptions options;
  options.brokers = "127.0.0.1:9092";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--brokers") == 0)
      options.brokers = argv[i + 1];
    else if (std::strcmp(argv[i], "--cluster") == 0)
      options.cluster = argv[i + 1];
    else {
      std::cerr << "usage: example_client [--brokers HOST:PORT] [--cluster NAME]\n";
      return 2;
    }
  }
  try {
    client::Client kluster(options);
    const auto timeout = std::chrono::seconds(30);
    const auto everyNode = client::WaitPolicy::parse("all");

    // DDL and writes go to ALL: every node applies them, in the same order.
    Request create;
    create.statements = {"CREATE TABLE IF NOT EXISTS inventory (sku text PRIMARY KEY, quantity int NOT NULL)"};
    auto created = kluster.send(create, client::Target::All, everyNode, timeout).get();
    if (!created.allOk()) {
      std::cerr << "CREATE TABLE failed or timed out\n";
      return 1;
    }

    // Values travel as parameters, never spliced into the SQL text. All five are in flight at once.
    std::vector<std::future<client::Result>> writes;
    for (int i = 1; i <= 5; ++i) {
      Request upsert;
      upsert.statements = {"INSERT INTO inventory VALUES ($1, $2) "
                           "ON CONFLICT (sku) DO UPDATE SET quantity = inventory.quantity + EXCLUDED.quantity"};
      upsert.params = nlohmann::json::array({fmt::format("sku-{}", i), i * 10});
      writes.push_back(kluster.send(upsert, client::Target::All, everyNode, timeout));
    }
    std::int64_t lastOffset = -1;
    for (auto& w : writes) {
      auto r = w.get();
      if (!r.allOk() || r.diverged) {
        std::cerr << fmt::format("write {} failed, timed out or diverged\n", r.requestId);
        return 1;
      }
      lastOffset = std::max(lastOffset, r.allOffset().value_or(-1));
    }
    fmt::print("5 writes applied by each of {} node(s), up to ALL offset {}\n", created.responses.size(), lastOffset);

    // Reads go to ONE: exactly one node answers. minAllOffset makes it see the writes above.
    Request read;
    read.statements = {"SELECT sku, quantity FROM inventory ORDER BY sku"};
    read.minAllOffset = lastOffset;
    auto answer = kluster.send(read, client::Target::One, client::WaitPolicy::parse("first"), timeout).get();
    if (answer.responses.empty() || answer.responses[0].resultCode != code::Ok) {
      std::cerr << "the read failed or timed out\n";
      return 1;
    }
    const auto& r = answer.responses[0];
    fmt::print("node {} answered:\n{}\n", r.nodeId, r.result.dump(2));
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "example_client: " << e.what() << "\n";
    return 1;
  }
}
