#pragma once
// Types as the wire protocol names them: the OIDs of the type names a node's response carries, and
// values turned between a response's JSON and PostgreSQL's text and binary formats.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kluster::proxy {

using ojson = nlohmann::ordered_json;

namespace oid {
inline constexpr std::uint32_t Bool = 16, Bytea = 17, Char = 18, Name = 19, Int8 = 20, Int2 = 21, Int4 = 23, Text = 25,
                               Oid = 26, Json = 114, Float4 = 700, Float8 = 701, Unknown = 705, Bpchar = 1042,
                               Varchar = 1043, Date = 1082, Time = 1083, Timestamp = 1114, Timestamptz = 1184,
                               Interval = 1186, Timetz = 1266, Numeric = 1700, Uuid = 2950, Jsonb = 3802;
}

/// Types from this OID on (enums, domains, extensions' types) differ between nodes: clients see them as text.
inline constexpr std::uint32_t kFirstAssignedOid = 10000;

/// The OID of a type as a response names it ("integer", "character varying", "text[]", ...); text (25)
/// for a name it does not know: the value is then sent as the server's text, which is always right.
std::uint32_t typeOid(std::string_view typeName);
/// The fixed size of a type, or -1 when its values vary in length.
std::int16_t typeSize(std::uint32_t oid);

/// A response value (JSON, see pg_values.cpp) in PostgreSQL's text format; nullopt for SQL NULL.
std::optional<std::string> textValue(const ojson& value);
/// A value in PostgreSQL's binary format for `oid`, from its text form; nullopt when this type is not
/// supported in binary (the caller answers with an error).
std::optional<std::string> binaryFromText(std::uint32_t oid, const std::string& text);
/// Whether binaryFromText/textFromBinary handle this type.
bool binarySupported(std::uint32_t oid);
/// A parameter sent in binary for a parameter of type `oid`, as the text PostgreSQL would accept for it;
/// nullopt when the bytes are invalid or the type is not supported in binary.
std::optional<std::string> textFromBinary(std::uint32_t oid, std::string_view bytes);

} // namespace kluster::proxy
