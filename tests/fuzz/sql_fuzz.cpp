// libFuzzer target: the SQL analyzer every node runs on every request's SQL (analyze, and the rewrites of the
// current time and of gen_random_uuid()). Bad SQL must end in SyntaxError or length_error, never a crash.
// And the analysis cache's shapes (issue 27): one cache lives across inputs, so an input of a shape an earlier
// input had gets that shape's analysis, which must be exactly what analyzing the input itself gives.
#include "core/sql/analysis_cache.hpp"
#include "core/sql/analyzer.hpp"

#include <cstdlib>
#include <string>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view sql(reinterpret_cast<const char*>(data), size);
  static kluster::sql::AnalysisCache cache;
  try {
    const auto analysis = kluster::sql::analyze(sql);
    if (*cache.get(std::string(sql)) != analysis) std::abort(); // a cached analysis that is not the text's
    if (analysis.usesCurrentTime) (void)kluster::sql::pinCurrentTime(sql, 1764633600123);
    if (analysis.defaultsCurrentTime) (void)kluster::sql::pinDefaultTime(sql);
  } catch (const kluster::sql::SyntaxError&) {
  } catch (const std::length_error&) {
  } catch (const std::out_of_range&) {
  }
  return 0;
}
