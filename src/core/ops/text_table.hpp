#pragma once
// Plain aligned columns for the operations commands' table output (kafka-consumer-groups style).
#include <string>
#include <vector>

namespace kluster::ops {

/// The header and rows as columns padded with spaces, two spaces apart, one line each.
std::string alignedTable(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

} // namespace kluster::ops
