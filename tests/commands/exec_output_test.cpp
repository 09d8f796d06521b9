#include "commands/exec_output.hpp"

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
