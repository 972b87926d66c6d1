// report.cpp - document and lines framing of a verb's JSON.
#include <fsc/report.hpp>

#include <fsc/format.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

namespace fsc {

JsonReport::JsonReport(std::FILE* out, JsonMode mode, std::string_view verb)
    : m_out(out), m_mode(mode), m_verb(verb)
{
  if (m_mode == JsonMode::document)
    put(fmt::format("{{\"schema\":{},\"verb\":\"{}\",\"records\":[",
                    k_json_schema, m_verb));
}

JsonReport::~JsonReport()
{
  if (!on() || m_done)
    return;
  open_summary(false);
  close_summary();
}

void JsonReport::put(std::string_view text)
{
  std::fwrite(text.data(), 1, text.size(), m_out);
}

void JsonReport::open_record(std::string_view kind)
{
  m_j.reset();
  if (m_mode == JsonMode::document && m_any)
    put(",");
  m_any = true;
  m_j.begin_object();
  m_j.field("record", kind);
}

void JsonReport::close_record()
{
  m_j.end_object();
  put(m_j.text());
  put("\n");
}

void JsonReport::write_rendered(std::string_view text)
{
  if (text.empty())
    return;
  if (m_mode == JsonMode::document && !m_any && text.front() == ',')
    text.remove_prefix(1);
  m_any = true;
  put(text);
}

void JsonReport::open_summary(bool complete)
{
  m_done = true;
  m_j.reset();
  if (m_mode == JsonMode::document) {
    put("]");
    m_j.resume_object();
  } else {
    m_j.begin_object();
    m_j.field("record", "summary");
    m_j.field("schema", k_json_schema);
    m_j.field("verb", m_verb);
  }
  m_j.field("complete", complete);
}

void JsonReport::close_summary()
{
  m_j.end_object();
  put(m_j.text());
  put("\n");
  std::fflush(m_out);
}

void problem_fields(JsonWriter& j, const Problem& p)
{
  j.field("kind", p.kind);
  j.name_field("path", p.path);
  j.field("message", p.message);
}

void problem_records(JsonReport& r, const std::vector<Problem>& ps)
{
  for (auto& p : ps)
    r.record("problem", [&](JsonWriter& j) { problem_fields(j, p); });
}

void problems_field(JsonWriter& j, std::string_view key,
                    const std::vector<Problem>& ps)
{
  j.key(key);
  j.begin_array();
  for (auto& p : ps) {
    j.begin_object();
    problem_fields(j, p);
    j.end_object();
  }
  j.end_array();
}

void time_value(JsonWriter& j, std::int64_t ns)
{
  IsoTimeBuf buf;
  j.plain_value(iso_time(ns, buf));
}

} // namespace fsc
