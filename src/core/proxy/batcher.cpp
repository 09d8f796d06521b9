#include "core/proxy/batcher.hpp"

namespace kluster::proxy {

void RequestBatcher::answered(std::int32_t id, Clock::time_point now) {
  if (window_.count() == 0) return;
  expected_[id] = now;
  answers_.emplace_back(now, id);
}

std::size_t RequestBatcher::expected(Clock::time_point now) {
  // A client that has not replied within the window is not part of this round (an interactive user, a
  // client done with its work): nobody waits for it again. The answers expire oldest first, so this costs
  // nothing per request however many connections there are; an answer whose client replied (or was answered
  // again since) is only dropped from the queue.
  while (!answers_.empty() && now - answers_.front().first >= window_) {
    const auto [at, id] = answers_.front();
    answers_.pop_front();
    if (auto it = expected_.find(id); it != expected_.end() && it->second == at) expected_.erase(it);
  }
  return expected_.size();
}

bool RequestBatcher::batch(std::int32_t id, Clock::time_point now, std::size_t othersInFlight) {
  if (window_.count() == 0) return false;
  expected_.erase(id);
  return othersInFlight > 0 || expected(now) > 0;
}

} // namespace kluster::proxy
