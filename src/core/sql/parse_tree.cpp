// Parsing with libpg_query: the big-stack worker thread, input validation, the parser wrappers
// and access to the JSON parse tree (see parse_tree.hpp for the tree's conventions).
#include "core/sql/parse_tree.hpp"

#include <pg_query.h>
#include <pthread.h>
#include <sys/mman.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <utility>

namespace kluster::sql {

SyntaxError::SyntaxError(ParseError error)
    : std::runtime_error(error.cursorPosition > 0
                             ? fmt::format("{} (at character {})", error.message, error.cursorPosition)
                             : error.message),
      error_(std::move(error)) {}

namespace detail {

namespace {

// Stack reserved for the worker that parses larger inputs: 128 bytes per input byte.
constexpr std::size_t kWorkerStackBytes = kMaxSqlBytes * 128;

// One long-lived thread with a large stack; it runs one job at a time. It is never destroyed
// (the process ends with it blocked on its condition variable), which also avoids the
// static-destruction order problems of a joinable thread. The stack is reserved with
// MAP_NORESERVE, so only the pages a deep parse actually touches cost memory.
class BigStackWorker {
public:
  static BigStackWorker& instance() {
    static auto* worker = new BigStackWorker(); // intentionally leaked, see above
    return *worker;
  }

  void run(const std::function<void()>& job) {
    std::lock_guard callers(callersMutex_); // one job at a time
    std::unique_lock lock(mutex_);
    job_ = &job;
    done_ = false;
    cv_.notify_all();
    cv_.wait(lock, [this] { return done_; });
  }

private:
  BigStackWorker() {
    void* stack = mmap(nullptr, kWorkerStackBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
      throw std::system_error(errno, std::generic_category(), "kluster::sql: cannot reserve parser stack");
    }
    mprotect(stack, 4096, PROT_NONE); // guard page at the low end
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstack(&attr, stack, kWorkerStackBytes);
    pthread_t thread;
    const int rc = pthread_create(&thread, &attr, &BigStackWorker::main, this);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
      munmap(stack, kWorkerStackBytes);
      throw std::system_error(rc, std::generic_category(), "kluster::sql: cannot start parser thread");
    }
    pthread_detach(thread);
  }

  static void* main(void* self) {
    auto& worker = *static_cast<BigStackWorker*>(self);
    std::unique_lock lock(worker.mutex_);
    for (;;) {
      worker.cv_.wait(lock, [&] { return worker.job_ != nullptr; });
      const std::function<void()>* job = std::exchange(worker.job_, nullptr);
      lock.unlock();
      (*job)(); // never throws: onParserStack() catches everything inside the job
      lock.lock();
      worker.done_ = true;
      worker.cv_.notify_all();
    }
  }

  std::mutex callersMutex_;
  std::mutex mutex_;
  std::condition_variable cv_;
  const std::function<void()>* job_ = nullptr;
  bool done_ = false;
};

} // namespace

void runOnBigStack(const std::function<void()>& job) { BigStackWorker::instance().run(job); }

// ---------------------------------------------------------------------------------------------
// Input validation: what a UTF-8 PostgreSQL server accepts.

void checkText(std::string_view sql) {
  const auto* s = reinterpret_cast<const unsigned char*>(sql.data());
  const std::size_t n = sql.size();
  int chars = 0;
  for (std::size_t i = 0; i < n; ++chars) {
    const unsigned char c = s[i];
    if (c != 0 && c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2, cp = c & 0x1Fu, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0Fu, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4, cp = c & 0x07u, min = 0x10000;
    }
    bool ok = len != 0 && i + len <= n;
    for (std::size_t k = 1; ok && k < len; ++k) {
      ok = (s[i + k] & 0xC0) == 0x80;
      cp = (cp << 6) | (s[i + k] & 0x3Fu);
    }
    ok = ok && cp >= min && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
    if (!ok) {
      std::string bytes;
      for (std::size_t k = i; k < std::min(n, i + std::max<std::size_t>(len, 1)); ++k) {
        bytes += fmt::format("{}0x{:02x}", bytes.empty() ? "" : " ", s[k]);
      }
      throw SyntaxError({fmt::format("invalid byte sequence for encoding \"UTF8\": {}", bytes), chars + 1});
    }
    i += len;
  }
}

// ---------------------------------------------------------------------------------------------
// libpg_query wrappers.

json parseTree(const std::string& sqlz) {
  PgQueryParseResult result = pg_query_parse(sqlz.c_str());
  struct Free {
    PgQueryParseResult& r;
    ~Free() { pg_query_free_parse_result(r); }
  } freeResult{result};
  if (result.error != nullptr) {
    throw SyntaxError(
        {result.error->message != nullptr ? result.error->message : "syntax error", result.error->cursorpos});
  }
  return json::parse(result.parse_tree);
}

bool parses(const std::string& sqlz) {
  PgQueryParseResult result = pg_query_parse(sqlz.c_str());
  const bool ok = result.error == nullptr;
  pg_query_free_parse_result(result);
  return ok;
}

// ---------------------------------------------------------------------------------------------
// Constants.

namespace {
thread_local Constants* currentConstants = nullptr;
} // namespace

void moveConstantsOut(json& tree, Constants& out) {
  std::vector<json*> stack{&tree};
  while (!stack.empty()) {
    json* node = stack.back();
    stack.pop_back();
    if (node->is_array()) {
      for (json& e : *node)
        if (e.is_structured()) stack.push_back(&e);
      continue;
    }
    for (auto it = node->begin(); it != node->end(); ++it) {
      if (!it.value().is_structured()) continue;
      if (it.key() != "A_Const" || !it.value().is_object()) {
        stack.push_back(&it.value());
        continue;
      }
      for (const char* kind : kConstantKinds) // (an A_Const has no nodes below it)
        if (auto v = it.value().find(kind); v != it.value().end()) {
          out.values.push_back(std::move(*v));
          *v = out.values.size() - 1;
        }
    }
  }
}

ConstantsScope::ConstantsScope(Constants* constants) : previous_(std::exchange(currentConstants, constants)) {}
ConstantsScope::~ConstantsScope() { currentConstants = previous_; }

const json* constantValue(const json& aConstBody, const char* kind) {
  const json* v = field(aConstBody, kind);
  if (v == nullptr) return nullptr;
  if (v->is_number_unsigned()) {
    if (currentConstants == nullptr || v->get<std::size_t>() >= currentConstants->values.size())
      throw std::logic_error("kluster::sql: a constant read outside the analysis of its tree");
    currentConstants->read = true;
    return &currentConstants->values[v->get<std::size_t>()];
  }
  if (currentConstants != nullptr) currentConstants->read = true;
  return v->is_object() ? v : nullptr;
}

// ---------------------------------------------------------------------------------------------
// JSON access helpers.

bool isNodeTypeName(const std::string& key) { return !key.empty() && key[0] >= 'A' && key[0] <= 'Z'; }

void forEachMember(const json& root, const std::function<bool(const std::string& key, const json& value)>& visit) {
  std::vector<const json*> stack{&root};
  while (!stack.empty()) {
    const json* node = stack.back();
    stack.pop_back();
    if (node->is_array()) {
      for (const json& e : *node)
        if (e.is_structured()) stack.push_back(&e);
      continue;
    }
    for (auto it = node->begin(); it != node->end(); ++it)
      if (it.value().is_structured() && visit(it.key(), it.value())) stack.push_back(&it.value());
  }
}

// {"Type": {...}} -> ("Type", body); anything else -> ("", nullptr).
std::pair<std::string_view, const json*> unwrap(const json& node) {
  if (node.is_object() && node.size() == 1) {
    const auto it = node.begin();
    if (isNodeTypeName(it.key()) && it.value().is_object()) return {it.key(), &it.value()};
  }
  return {{}, nullptr};
}

const json* field(const json& body, const char* key) {
  const auto it = body.find(key);
  return it == body.end() ? nullptr : &*it;
}

std::string_view stringField(const json& body, const char* key) {
  const json* v = field(body, key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_ref<const std::string&>()) : std::string_view();
}

std::int64_t intField(const json& body, const char* key, std::int64_t fallback) {
  const json* v = field(body, key);
  return v != nullptr && v->is_number_integer() ? v->get<std::int64_t>() : fallback;
}

bool boolField(const json& body, const char* key) {
  const json* v = field(body, key);
  return v != nullptr && v->is_boolean() && v->get<bool>();
}

// The text of a String node ({"String": {"sval": "x"}}), "" otherwise.
std::string_view stringNode(const json& node) {
  const auto [type, body] = unwrap(node);
  return type == "String" ? stringField(*body, "sval") : std::string_view();
}

// Last String of a name list (funcname, TypeName.names, ColumnRef.fields, ...).
std::string_view lastName(const json* list) {
  std::string_view name;
  if (list != nullptr && list->is_array()) {
    for (const json& item : *list) {
      if (const auto s = stringNode(item); unwrap(item).first == "String") name = s;
    }
  }
  return name;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// PostgreSQL's defGetBoolean() on a DefElem body; nullopt when the value is not a boolean.
std::optional<bool> defElemBool(const json& defElem) {
  const json* arg = field(defElem, "arg");
  if (arg == nullptr) return true; // "WITH (create_slot)" / "EXPLAIN ANALYZE"
  const auto [type, body] = unwrap(*arg);
  if (body == nullptr) return std::nullopt;
  if (type == "Integer") {
    const auto v = intField(*body, "ival");
    if (v == 0 || v == 1) return v == 1;
    return std::nullopt;
  }
  if (type == "Boolean") return boolField(*body, "boolval");
  std::string_view text;
  if (type == "String")
    text = stringField(*body, "sval");
  else if (type == "TypeName")
    text = lastName(field(*body, "names"));
  if (equalsIgnoreCase(text, "true") || equalsIgnoreCase(text, "on")) return true;
  if (equalsIgnoreCase(text, "false") || equalsIgnoreCase(text, "off")) return false;
  return std::nullopt;
}

// The DefElem named `name` in an option list, or nullptr.
const json* findOption(const json& body, const char* listKey, std::string_view name) {
  const json* list = field(body, listKey);
  if (list == nullptr || !list->is_array()) return nullptr;
  for (const json& item : *list) {
    const auto [type, def] = unwrap(item);
    if (type == "DefElem" && stringField(*def, "defname") == name) return def;
  }
  return nullptr;
}

std::vector<std::string> functionSettings(const json& body, const char* listKey) {
  std::vector<std::string> names;
  const json* list = field(body, listKey);
  if (list == nullptr || !list->is_array()) return names;
  for (const json& item : *list) {
    const auto [type, def] = unwrap(item);
    if (type != "DefElem" || stringField(*def, "defname") != "set" || field(*def, "arg") == nullptr) continue;
    if (const auto [argType, set] = unwrap(*field(*def, "arg")); argType == "VariableSetStmt")
      names.push_back(lowerAscii(stringField(*set, "name")));
  }
  return names;
}

std::string lowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Option `name` as a boolean: `absent` when missing, `unknown` when not a boolean.
bool optionBool(const json& body, const char* listKey, std::string_view name, bool absent, bool unknown) {
  const json* def = findOption(body, listKey, name);
  if (def == nullptr) return absent;
  return defElemBool(*def).value_or(unknown);
}

} // namespace detail

} // namespace kluster::sql
