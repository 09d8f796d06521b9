// libFuzzer target: the SQL analyzer every node runs on every request's SQL (analyze, and the rewrites of the
// current time and of gen_random_uuid()). Bad SQL must end in SyntaxError or length_error, never a crash.
#include "core/sql/analyzer.hpp"

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view sql(reinterpret_cast<const char*>(data), size);
  try {
    const auto analysis = kluster::sql::analyze(sql);
    if (analysis.usesCurrentTime) (void)kluster::sql::pinCurrentTime(sql, 1764633600123);
    if (analysis.defaultsCurrentTime) (void)kluster::sql::pinDefaultTime(sql);
  } catch (const kluster::sql::SyntaxError&) {
  } catch (const std::length_error&) {
  } catch (const std::out_of_range&) {
  }
  return 0;
}
