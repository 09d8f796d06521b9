// libFuzzer target: the configuration parser (a node's TOML file). Bad input must end in UsageError.
#include "core/config.hpp"
#include "core/errors.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto settings = kluster::Settings::fromText(text, "fuzz.toml");
    (void)settings.describe();
  } catch (const kluster::UsageError&) {
  }
  return 0;
}
