#include "core/kafka/statistics.hpp"

#include "core/log.hpp"

#include <nlohmann/json.hpp>

#include <map>
#include <mutex>

namespace kluster::kafka {
namespace {

class Collector : public RdKafka::EventCb {
public:
  void event_cb(RdKafka::Event& event) override {
    // With an event callback librdkafka hands it its log lines and errors too, instead of printing them.
    if (event.type() == RdKafka::Event::EVENT_LOG && event.severity() <= RdKafka::Event::EVENT_SEVERITY_WARNING)
      KLOG(Warn, "kafka", "librdkafka {}: {}", event.fac(), event.str());
    if (event.type() == RdKafka::Event::EVENT_ERROR)
      KLOG(Warn, "kafka", "librdkafka: {}: {}", RdKafka::err2str(event.err()), event.str());
    if (event.type() != RdKafka::Event::EVENT_STATS) return;
    try {
      std::string name;
      const auto counts = parseStatistics(event.str(), &name);
      std::lock_guard lock(mutex_);
      last_[name] = counts;
    } catch (const std::exception&) {
      // A report that cannot be read is skipped: the next one counts from the client's start again.
    }
  }
  RequestCounts total() const {
    std::lock_guard lock(mutex_);
    RequestCounts sum;
    for (const auto& [name, c] : last_) {
      sum.sent += c.sent;
      sum.received += c.received;
      ++sum.clients;
    }
    return sum;
  }

private:
  mutable std::mutex mutex_;
  std::map<std::string, RequestCounts> last_;
};

Collector& collector() {
  static Collector c; // never destroyed before the clients that call it: a function-local static outlives main
  return c;
}

} // namespace

RequestCounts parseStatistics(const std::string& json, std::string* clientName) {
  const auto j = nlohmann::json::parse(json);
  if (clientName) *clientName = j.value("name", std::string());
  RequestCounts c;
  if (const auto it = j.find("brokers"); it != j.end() && it->is_object())
    for (const auto& [name, broker] : it->items()) {
      c.sent += broker.value("tx", std::uint64_t{0});
      c.received += broker.value("rx", std::uint64_t{0});
    }
  c.clients = 1;
  return c;
}

RequestCounts requestCounts() { return collector().total(); }

RdKafka::EventCb* statisticsCollector() { return &collector(); }

} // namespace kluster::kafka
