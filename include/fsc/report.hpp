// report.hpp - the one framing of every verb's JSON. A verb's output is a
// sequence of records (an inspect entry, a cull victim, a verify verdict, a
// refs finding...) and one summary. `--json` (document) writes
//   {"schema":2,"verb":V,"records":[R...],"complete":true, SUMMARY FIELDS}
// and `--json=lines` writes each record on its own line, then
//   {"record":"summary","schema":2,"verb":V,"complete":true, SUMMARY FIELDS}
// so both carry the same fields and every stream ends with its summary, even
// when the run stops early ("complete": false).
#pragma once

#include <fsc/error.hpp>
#include <fsc/json.hpp>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace fsc {

enum class JsonMode { off, document, lines };

/// Bumped when a field changes meaning or goes away (not when one is added).
inline constexpr int k_json_schema = 2;

class JsonReport {
public:
  JsonReport(std::FILE* out, JsonMode mode, std::string_view verb);
  /// Closes an unfinished report with "complete": false, so a consumer
  /// never reads half a document.
  ~JsonReport();
  JsonReport(const JsonReport&) = delete;
  JsonReport& operator=(const JsonReport&) = delete;

  bool on() const { return m_mode != JsonMode::off; }
  bool lines() const { return m_mode == JsonMode::lines; }

  /// One record of the given kind; body(JsonWriter&) writes its fields.
  template <class F> void record(std::string_view kind, F&& body)
  {
    if (!on())
      return;
    open_record(kind);
    body(m_j);
    close_record();
  }

  /// Records rendered elsewhere (by scan workers, say) into one text with
  /// render(), handed over in one piece.
  template <class F>
  static void render(std::string& out, JsonMode mode, std::string_view kind,
                     F&& body)
  {
    // One writer a thread, its buffer kept: a new one per record grew its
    // text from nothing through seven reallocations.
    thread_local JsonWriter j(nullptr);
    j.reset();
    j.begin_object();
    j.field("record", kind);
    body(j);
    j.end_object();
    // A document's records are separated by commas; write_rendered() drops
    // the first one of the report.
    if (mode == JsonMode::document)
      out += ',';
    out += j.text();
    out += '\n';
  }
  void write_rendered(std::string_view text);

  /// The summary: body(JsonWriter&) writes its fields. Ends the report.
  template <class F> void summary(F&& body)
  {
    if (!on() || m_done)
      return;
    open_summary(true);
    body(m_j);
    close_summary();
  }

private:
  void open_record(std::string_view kind);
  void close_record();
  void open_summary(bool complete);
  void close_summary();
  void put(std::string_view text);

  std::FILE* m_out;
  JsonMode m_mode;
  std::string m_verb;
  JsonWriter m_j{nullptr};
  bool m_done = false;
  bool m_any =
      false; ///< a record was written (document: the next needs a comma)
};

/// One problem as a record's fields: kind, path (+ path_hex), message.
void problem_fields(JsonWriter& j, const Problem& p);

/// A "problem" record for each of ps: every verb lists its problems so.
void problem_records(JsonReport& r, const std::vector<Problem>& ps);

/// "key": [ {problem}... ]
void problems_field(JsonWriter& j, std::string_view key,
                    const std::vector<Problem>& ps);

/// The ISO time text of ns as a JSON string value.
void time_value(JsonWriter& j, std::int64_t ns);

/// "key": ISO time text and "key_ns": nanoseconds since the epoch (key a
/// literal: both keys are written without the escaping check).
template <std::size_t N>
void time_fields(JsonWriter& j, const char (&key)[N], std::int64_t ns)
{
  j.key(key);
  time_value(j, ns);
  j.key(key, "_ns");
  j.value(ns);
}

} // namespace fsc
