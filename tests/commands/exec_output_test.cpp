#include "commands/exec_output.hpp"
#include "core/errors.hpp"

#include <catch2/catch.hpp>

using namespace kluster;

TEST_CASE("tables align columns and show NULL distinctly") {
  auto rows = ojson::parse(R"([{"id":1,"name":"Jan"},{"id":22,"name":null}])");
  auto table = commands::formatTable(rows, nullptr);
  CHECK(table == " id | name\n----+------\n 1  | Jan \n 22 | NULL\n(2 rows)\n");
}

TEST_CASE("CSV quotes what needs quoting") {
  auto rows = ojson::parse(R"([{"a":"x,y","b":"say \"hi\""},{"a":null,"b":3}])");
  CHECK(commands::formatCsv(rows, nullptr) == "a,b\r\n\"x,y\",\"say \"\"hi\"\"\"\r\n,3\r\n");
}

TEST_CASE("plain tables pad columns two spaces apart, without trailing blanks") {
  auto text = commands::renderTable({{"A", "LONGER"}, {{"wide cell", "x"}, {"b"}}}, commands::TableStyle::Plain);
  CHECK(text == "A          LONGER\nwide cell  x\nb\n");
  // widths count UTF-8 code points, not bytes
  CHECK(commands::renderTable({{"N", "X"}, {{"é", "1"}}}, commands::TableStyle::Plain) == "N  X\né  1\n");
}

TEST_CASE("every command's -o takes the same four formats; text is table's old name") {
  using commands::Format;
  CHECK(commands::parseFormat("table") == Format::Table);
  CHECK(commands::parseFormat("text") == Format::Table);
  CHECK(commands::parseFormat("jsonl") == Format::Jsonl);
  CHECK(commands::outputFormat("", Format::Csv) == Format::Csv);
  CHECK_THROWS_AS(commands::parseFormat("xml"), UsageError);
  for (auto f : {Format::Table, Format::Json, Format::Jsonl, Format::Csv})
    CHECK(commands::parseFormat(commands::formatName(f)) == f);

  std::string value;
  CLI::App app;
  commands::addOutputFlag(&app, value, "default: table");
  CHECK_NOTHROW(app.parse(std::vector<std::string>{"csv", "-o"})); // CLI11 takes the arguments reversed
  CHECK(value == "csv");
  CHECK_THROWS_AS(app.parse(std::vector<std::string>{"yaml", "-o"}), CLI::ValidationError);
}
