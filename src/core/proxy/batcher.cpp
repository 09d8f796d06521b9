#include "core/proxy/batcher.hpp"

namespace kluster::proxy {

void RequestBatcher::answered(std::int32_t id, Clock::time_point now) {
  if (window_.count() > 0) expected_[id] = now;
}

std::size_t RequestBatcher::expected(Clock::time_point now) {
  // A client that has not replied within the window is not part of this round (an interactive user, a
  // client done with its work): nobody waits for it again.
  for (auto it = expected_.begin(); it != expected_.end();)
    it = now - it->second >= window_ ? expected_.erase(it) : std::next(it);
  return expected_.size();
}

bool RequestBatcher::batch(std::int32_t id, Clock::time_point now, std::size_t othersInFlight) {
  if (window_.count() == 0) return false;
  expected_.erase(id);
  return othersInFlight > 0 || expected(now) > 0;
}

} // namespace kluster::proxy
