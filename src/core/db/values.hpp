#pragma once
// Result values as JSON, the same for every adapter: numbers become JSON numbers only when every JSON reader gets
// them back exactly, and stay the server's text otherwise.
#include "core/message.hpp"

#include <string_view>

namespace kluster::db {

/// An integer's text as a JSON number when |n| <= 2^53 (beyond it JSON readers lose digits), else the text.
ojson integerValue(std::string_view text);
/// A floating-point value's text as a JSON number when finite, else the text (NaN, Infinity).
ojson floatValue(std::string_view text);
/// A decimal's text (PostgreSQL's numeric, MariaDB's DECIMAL) as a JSON number when a double holds it exactly (at
/// most 15 significant digits, no exponent), else the text.
ojson decimalValue(std::string_view text);

} // namespace kluster::db
