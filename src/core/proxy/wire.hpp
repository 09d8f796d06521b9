#pragma once
// PostgreSQL's frontend/backend protocol, version 3 (PostgreSQL documentation, chapter "Frontend/Backend
// Protocol"): framing of the messages a client sends, and the messages a server writes back. No I/O here:
// bytes in, bytes out, so the codec is tested on its own.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kluster::proxy::wire {

inline constexpr std::int32_t kProtocol3 = 196608;       // 3.0
inline constexpr std::int32_t kSslRequest = 80877103;    // 1234.5679
inline constexpr std::int32_t kGssEncRequest = 80877104; // 1234.5680
inline constexpr std::int32_t kCancelRequest = 80877102; // 1234.5678
/// PostgreSQL's own limit on a startup packet (MAX_STARTUP_PACKET_LENGTH).
inline constexpr std::size_t kMaxStartupBytes = 10000;

/// One complete message from the client: its type byte (0 for a startup packet) and body (after the length).
struct Message {
  char type = 0;
  std::string body;
};

/// Why the client's bytes cannot be read further; the connection is then answered with a FATAL error and closed.
struct FramingError {
  std::string sqlState;
  std::string message;
};

/// Takes the next complete message off the front of `buffer`. `startup`: the message has no type byte
/// (the first one, and the one after an SSLRequest/GSSENCRequest). Returns nullopt when more bytes are
/// needed; sets `error` (and returns nullopt) when the length is invalid or larger than `maxBytes`.
std::optional<Message> take(std::string& buffer, bool startup, std::size_t maxBytes,
                            std::optional<FramingError>& error);

/// Reads the fields of a message body in order; any read past the end sets failed() and returns zeros.
class Reader {
public:
  explicit Reader(std::string_view body) : data_(body) {}
  std::int32_t int32();
  std::int16_t int16();
  std::uint8_t byte();
  /// A NUL-terminated string.
  std::string cstring();
  /// `n` raw bytes.
  std::string bytes(std::size_t n);
  bool failed() const { return failed_; }
  bool atEnd() const { return pos_ == data_.size(); }
  std::size_t remaining() const { return data_.size() - pos_; }

private:
  std::string_view data_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

/// The startup packet's contents.
struct Startup {
  std::int32_t code = 0;                     ///< protocol version or a special request code
  std::map<std::string, std::string> params; ///< user, database, application_name, options, ...
  std::int32_t cancelPid = 0;                ///< CancelRequest
  std::int32_t cancelKey = 0;
};

/// Parses a startup packet's body; nullopt when it is malformed.
std::optional<Startup> parseStartup(std::string_view body);

/// Builds backend messages into one output buffer.
class Writer {
public:
  std::string& buffer() { return out_; }
  bool empty() const { return out_.empty(); }
  std::size_t size() const { return out_.size(); }
  std::string take();

  void authenticationOk();
  /// AuthenticationSASL with the mechanisms offered.
  void authenticationSasl(const std::vector<std::string>& mechanisms);
  void authenticationSaslContinue(std::string_view data);
  void authenticationSaslFinal(std::string_view data);
  void parameterStatus(std::string_view name, std::string_view value);
  void backendKeyData(std::int32_t pid, std::int32_t key);
  void readyForQuery(char status);
  /// Fields of RowDescription.
  struct Field {
    std::string name;
    std::uint32_t typeOid = 25;
    std::int16_t typeSize = -1;
    std::int16_t format = 0; ///< 0 text, 1 binary
  };
  void rowDescription(const std::vector<Field>& fields);
  void noData();
  /// A DataRow; nullopt values are SQL NULL.
  void dataRow(const std::vector<std::optional<std::string>>& values);
  void commandComplete(std::string_view tag);
  void emptyQueryResponse();
  /// ErrorResponse ('E') or NoticeResponse ('N'); fields by their one-letter codes.
  struct Notice {
    std::string severity = "ERROR"; ///< ERROR, FATAL, PANIC; WARNING, NOTICE, ...
    std::string sqlState;
    std::string message;
    std::string detail;
    std::string hint;
    int position = 0; ///< 1-based character position in the query, 0 when unknown
  };
  void error(const Notice& notice);
  void notice(const Notice& notice);
  void parseComplete();
  void bindComplete();
  void closeComplete();
  void portalSuspended();
  void parameterDescription(const std::vector<std::uint32_t>& oids);
  /// CopyInResponse: text format, `columns` columns (0 when not known).
  void copyInResponse(std::int16_t columns);
  /// CopyOutResponse: text format, `columns` columns (0 when not known); then a CopyData per line, and CopyDone.
  void copyOutResponse(std::int16_t columns);
  void copyData(std::string_view data);
  void copyDone();
  /// The single byte answering an SSLRequest or GSSENCRequest ('S' or 'N').
  void sslAnswer(char answer);

private:
  // Starts a message of `type`; end() fills in its length.
  std::size_t begin(char type);
  void end(std::size_t start);
  void int32(std::int32_t v);
  void int16(std::int16_t v);
  void cstring(std::string_view s);
  void noticeFields(const Notice& n);
  void copyResponse(char type, std::int16_t columns); // CopyInResponse 'G', CopyOutResponse 'H'

  std::string out_;
};

} // namespace kluster::proxy::wire
