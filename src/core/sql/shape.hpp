#pragma once
// A statement's shape (issue 27): its parse tree without the values of its constants and without text positions.
// SQL with the values spliced in (psql scripts, pgbench -M simple, pg_dump --inserts, drivers that interpolate) sends a
// new text for every row, each of which would be analyzed again; texts of one shape have the same parse tree but for
// those values, so an analysis that read none of them (analyze() records it) holds for all of them, once the parts
// taken from the text itself (each statement's text) are taken from the new one. sql::AnalysisCache keeps such
// analyses by shape. Parsing stays: every text is parsed (a syntax error is never cached), the rest of the analysis
// (the parse tree as JSON read into a DOM, the walks of every rule) is what a shape saves.
#include "core/sql/analyzer.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kluster::sql {

struct Shape {
  /// The parse tree as libpg_query writes it in JSON with every constant's value (A_Const's ival, fval, sval, bsval,
  /// boolval; its kind stays, and NULL) and every position (location, stmt_location, stmt_len) left out: texts with
  /// the same key have the same tree but for those.
  std::string key;
  /// Each statement's (stmt_location, stmt_len) in this text.
  std::vector<std::pair<std::int64_t, std::int64_t>> statements;
  /// libpg_query's JSON parse tree of this text (analyzeShape() reads it instead of parsing again).
  std::string tree;
};

/// The shape of `sql`, or nullopt when it does not parse (analyze() then says why), is not valid UTF-8, or is
/// larger than 16 KiB (parsed on a big stack by analyze(); not worth a shape).
std::optional<Shape> shapeOf(std::string_view sql);

/// analyze(sql) from `shape` (shapeOf(sql)) without parsing again; `readConstant` says whether some rule read the
/// value of a constant, i.e. whether the analysis may differ for another text of the same shape.
Analysis analyzeShape(std::string_view sql, const Shape& shape, bool& readConstant);

/// Whether `a` (of a text of shape `shape`, that read no constant) holds for other texts of that shape once
/// fromShape() gives it their statements' texts: false when it keeps something else taken from the text (a
/// gen_random_uuid() pinned in Statement::allSql, COPY's query).
bool shapeReusable(const Analysis& a, const Shape& shape);

/// The analysis of `sql` (of shape `shape`) from `cached`, the analysis of another text of the same shape that read no
/// constant and is shapeReusable(): the same, with `sql`'s own statement texts.
Analysis fromShape(const Analysis& cached, std::string_view sql, const Shape& shape);

} // namespace kluster::sql
