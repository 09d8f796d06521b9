#pragma once
// The random differential test's statement generator (tests/integration/differential_test.cpp): random
// queries over a schema of many types, wrapped into writes that store what they computed, and random UPDATEs,
// DELETEs, INSERTs and MERGEs with subqueries. The same seed gives the same statements on every platform (its
// own xorshift generator, no std:: distributions). See docs/determinism.md, "The random differential test".
#include <cstdint>
#include <string>
#include <vector>

namespace kluster::test::differential {

struct Column {
  const char* name;
  const char* type; // int num float text date ts tz iv json arr uuid bool bytea
};

struct TableDef {
  const char* name;
  std::vector<Column> columns;
  const char* key; // a unique NOT NULL column, or nullptr (t3 has no key: no order over it is total)
};

/// The table `name` of the schema (schema.cpp).
const TableDef& def(const std::string& name);

// Text values whose order depends on the collation (case, accents, ß, spaces, digits, the empty string).
inline constexpr const char* kWords =
    "ARRAY['apple','Apple','äpfel','Zebra','zebra','a b','a-b','ab','','École','ecole',"
    "'ß','ss','1','10','2','Ørsted','ω','résumé','resume','ABC','abc ']";

/// The schema's DDL, one statement per entry, sent through ALL before the seed data (`knownHazards`: as Generator).
std::vector<std::string> schema(bool knownHazards);
/// The seed data (INSERTs through ALL); deterministic expressions of generate_series().
std::vector<std::string> seedData();
/// DDL sent after the odd node's rows were put in another physical order (the trigger, so that reordering by
/// hand does not fire it).
std::vector<std::string> lateSchema();
/// The tables the test compares, each with the ORDER BY that makes its digest total.
struct Table {
  std::string name, orderBy;
};
std::vector<Table> tables();
/// A read whose one value digests every table: run on ALL after each write, it shows each node's state at
/// that position in the log.
std::string digestQuery();

class Generator {
public:
  /// `knownHazards`: also the hazards docs/determinism.md lists as known and not detected (an UPDATE ... FROM whose
  /// join matches several source rows, a numeric column without a scale), to see the test find them.
  Generator(std::uint64_t seed, bool knownHazards);
  /// The next random write (`n` numbers it; sink rows carry it).
  std::string next(int n);

private:
  std::uint64_t state_;
  bool knownHazards_;
  std::uint64_t bits();
  int below(int n); ///< 0 .. n-1
  bool chance(int percent);
  template <typename T> const T& pick(const std::vector<T>& items) { return items[below(int(items.size()))]; }

  struct Scope; // the tables in FROM, with their aliases
  std::string intExpr(const Scope& s, int depth);
  std::string numExpr(const Scope& s, int depth);
  std::string textExpr(const Scope& s, int depth);
  std::string boolExpr(const Scope& s, int depth);
  std::string anyExpr(const Scope& s, int depth);
  std::string column(const Scope& s, const std::string& type);
  std::string subquery(const Scope& s, int depth);
  std::string orderBy(const Scope& s, bool total);
  std::string query(int depth);
  std::string plainQuery(int depth);
  std::string aggregateQuery(int depth);
  std::string windowQuery(int depth);
  std::string setQuery(int depth);
  std::string update();
  std::string remove();
  std::string insert(int n);
  std::string merge();
  std::string drawn(int n);
};

} // namespace kluster::test::differential
