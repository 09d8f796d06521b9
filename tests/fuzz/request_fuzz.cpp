// libFuzzer target: the request parser a node runs on every raw Kafka payload (parseRequest). It must never
// crash, leak or trip a sanitizer, whatever the bytes; a request it accepts must survive a round trip.
#include "core/message.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  const auto parsed = kluster::parseRequest(payload, 64 * 1024);
  if (parsed.ok()) {
    // What the client library would publish for the same request must parse to the same request.
    const auto again = kluster::parseRequest(parsed.request.toJson(), 1u << 30);
    if (!again.ok() || again.request.statements != parsed.request.statements ||
        again.request.messageId != parsed.request.messageId || again.request.params != parsed.request.params)
      std::abort();
  }
  return 0;
}
