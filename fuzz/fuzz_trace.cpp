// fuzz_trace.cpp - the trace line parser and the refcount analysis never
// crash, and what format_line writes parses back to the same fields.
#include <fsc/trace/refs.hpp>
#include <fsc/trace/trace.hpp>

#include <cstdlib>
#include <string_view>

using namespace fsc::trace;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data,
                                      std::size_t size)
{
  std::string_view text(reinterpret_cast<const char*>(data), size);
  RefsOptions o;
  o.cookie = "1";
  RefsAnalyzer a(o);
  std::uint64_t n = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    Parsed p = parse_line(line);
    if (p.kind == Kind::event) {
      split_fields(p.line.body);
      std::string again = format_line(p.line);
      Parsed q = parse_line(again);
      if (q.kind != Kind::event || q.line.event != p.line.event ||
          q.line.pid != p.line.pid || q.line.cpu != p.line.cpu)
        std::abort();
    }
    a.feed(line, ++n);
    text.remove_prefix(nl == text.npos ? text.size() : nl + 1);
  }
  a.finish();
  return 0;
}
