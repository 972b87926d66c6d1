// test_refs.cpp - `fsc refs` end to end: real traces, a constructed over-put,
// the timeline, JSON, the SVG plot, stdin and bad input.
#include <catch2/catch.hpp>

#include "run.hpp"
#include "tree.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include "json_records.hpp"

#include <fstream>
#include <sstream>

using fsc::test::records;
using fsc::test::run_fsc;
using fsc::test::TempDir;

namespace {

std::string fixture_trace(const char* name)
{
  return fsc::test::fixtures_dir() + "/" + name + "/ftrace.txt.xz";
}

/// The lines of a real smoke trace, decompressed.
std::vector<std::string> fixture_lines(const char* name)
{
  auto r = fsc::test::run_prog({"xz", "-dc", fixture_trace(name)});
  REQUIRE(r.status == 0);
  std::vector<std::string> lines;
  std::istringstream in(r.out);
  for (std::string l; std::getline(in, l);)
    lines.push_back(l);
  return lines;
}

/// The index of the only line holding `what`.
std::size_t line_with(const std::vector<std::string>& lines,
                      const std::string& what)
{
  std::size_t at = lines.size(), n = 0;
  for (std::size_t i = 0; i < lines.size(); ++i)
    if (lines[i].find(what) != std::string::npos) {
      at = i;
      ++n;
    }
  INFO(what);
  REQUIRE(n == 1);
  return at;
}

std::string joined(const std::vector<std::string>& lines)
{
  std::string s;
  for (auto& l : lines)
    s += l + "\n";
  return s;
}

// A 4.19 cookie whose attach error path puts it once too often.
const char* k_overput =
    "             cat-222     [000] ....    13.690742: fscache_acquire: "
    "c=ffff91ce827c1380 p=ffff91ce821f9700 pu=2 pc=1 pf=22 n=NFS.fh\n"
    "             cat-222     [000] ....    13.691995: fscache_cookie: GET obj "
    "c=ffff91ce827c1380 u=2 p=ffff91ce821f9700 Nc=0 Na=1 f=47\n"
    "    kworker/u4:0-7       [001] ....    13.692910: fscache_cookie: PUT obj "
    "c=ffff91ce827c1380 u=1 p=ffff91ce821f9700 Nc=0 Na=1 f=47\n"
    "    kworker/u4:0-7       [001] ....    13.692990: fscache_cookie: PUT obj "
    "c=ffff91ce827c1380 u=0 p=ffff91ce821f9700 Nc=0 Na=1 f=47\n"
    "    kworker/u4:0-7       [001] ....    13.693000: fscache_cookie: PUT obj "
    "c=ffff91ce827c1380 u=-1 p=ffff91ce821f9700 Nc=0 Na=1 f=47\n";

} // namespace

TEST_CASE("refs on the real traces: every history balances", "[refs][real]")
{
  for (auto name : {"real-5.10-smoke", "real-6.1-smoke"}) {
    auto r = run_fsc({"refs", fixture_trace(name)});
    INFO(name << ": " << r.out << r.err);
    CHECK(r.status == 0);
    CHECK(r.out.find("findings   0") != std::string::npos);
    CHECK(r.out.find(" 0 malformed, 0 lost") != std::string::npos);
  }
  auto r = run_fsc({"refs", fixture_trace("real-6.1-smoke")});
  CHECK(r.out.find("(6.1 format)") != std::string::npos);
  CHECK(r.out.find("cookies    204 (204 relinquished, 204 freed") !=
        std::string::npos);
}

TEST_CASE("refs: a count read before another CPU's put and printed after "
          "it is no finding (real 6.1 trace, 5 and 54 us)",
          "[refs][reorder]")
{
  // Issue 13 item 4, made from the real 6.1 smoke trace: at umount the
  // worker queued by `GQ endac` reads r=3 of cookie 3 before `PUT relnq`
  // makes 2 on CPU 0, and prints its `- work` line 5 (54) us after it on
  // CPU 1. The kernel printed `- work r=2` at 18.288345 here.
  TempDir t;
  struct Case {
    int gap_us;
    const char* after; ///< the line the edited one follows
    const char* cpu;
    int status;
  };
  for (auto c :
       {Case{5, "18.288260: fscache_cookie: c=00000003 PUT relnq", "001", 0},
        Case{54, "18.288299: fscache_cookie: c=00000007 PUT relnq", "001", 0},
        // One CPU prints in the order it ran: a real jump.
        Case{5, "18.288260: fscache_cookie: c=00000003 PUT relnq", "000", 1}}) {
    auto lines = fixture_lines("real-6.1-smoke");
    lines.erase(
        lines.begin() +
        std::ptrdiff_t(line_with(
            lines, "18.288345: fscache_cookie: c=00000003 -   work  r=2")));
    auto at = line_with(lines, c.after);
    lines.insert(
        lines.begin() + std::ptrdiff_t(at) + 1,
        fmt::format("    kworker/u4:0-9       [{}] .....    "
                    "18.{:06}: fscache_cookie: c=00000003 -   work  r=3",
                    c.cpu, 288260 + c.gap_us));
    fsc::test::write_file(t / "trace.txt", joined(lines));
    auto r = run_fsc({"refs", t / "trace.txt"});
    INFO("gap " << c.gap_us << " cpu " << c.cpu << ": " << r.out << r.err);
    CHECK(r.status == c.status);
    if (c.status == 0)
      CHECK(r.out.find("findings   0") != std::string::npos);
    else
      CHECK(r.out.find("count-jump") != std::string::npos);
  }
}

TEST_CASE("refs finds the over-put, from stdin, with a timeline", "[refs]")
{
  auto r = run_fsc({"refs", "--cookie", "ffff91ce827c1380"}, {}, k_overput);
  INFO(r.err);
  CHECK(r.status == 1);
  CHECK(r.out.find("over-put") != std::string::npos);
  CHECK(r.out.find("timeline   5 events") != std::string::npos);
  CHECK(r.out.find("=> -1") != std::string::npos);

  r = run_fsc({"--json", "refs", "-"}, {}, k_overput);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["gen"] == "4.19");
  REQUIRE(records(j, "finding").size() == 1);
  CHECK(records(j, "finding")[0]["kind"] == "over-put");
  CHECK(records(j, "finding")[0]["line"] == 5);
}

TEST_CASE("refs --svg draws the history with the finding marked", "[refs][svg]")
{
  TempDir t;
  fsc::test::write_file(t / "trace.txt", k_overput);
  auto r = run_fsc({"refs", t / "trace.txt", "--svg", t / "plot.svg"});
  CHECK(r.status == 1);
  std::ifstream in(t / "plot.svg");
  std::stringstream ss;
  ss << in.rdbuf();
  auto svg = ss.str();
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(svg.find("refcount of cookie c=ffff91ce827c1380") != std::string::npos);
  CHECK(svg.find("stroke=\"red\"") != std::string::npos);
  CHECK(svg.find("over-put") != std::string::npos);
  // Well-formed XML, as a browser needs.
  CHECK(fsc::test::run_prog({"python3", "-c",
                             "import sys,xml.dom.minidom as m;"
                             "m.parse(sys.argv[1])",
                             t / "plot.svg"})
            .status == 0);
}

TEST_CASE("refs on bad input", "[refs][errors]")
{
  TempDir t;
  auto r = run_fsc({"refs", t / "missing.trace"});
  CHECK(r.status == 2);
  CHECK(r.err.find("missing.trace") != std::string::npos);
  fsc::test::write_file(t / "bad.xz", std::string("\xfd"
                                                  "7zXZ\0garbage",
                                                  12));
  r = run_fsc({"refs", t / "bad.xz"});
  CHECK(r.status == 2);
  CHECK(r.err.find("bad.xz") != std::string::npos);
  // One bad line in a trace is a finding; a file of them is no trace.
  r = run_fsc({"refs", "-"}, {},
              std::string(k_overput) + "this is not a trace line\n");
  CHECK(r.status == 1);
  CHECK(r.err.find(":6: malformed line") != std::string::npos);
}

TEST_CASE("refs on a file that is not a trace: exit 2, nothing analysed",
          "[refs][errors]")
{
  TempDir t;
  fsc::test::write_file(t / "passwd",
                        "root:x:0:0:root:/root:/bin/bash\n"
                        "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                        "# a comment\n\n");
  std::string noise(65536, '\0');
  std::uint32_t x = 2463534242u; // xorshift: the same bytes every run
  for (char& c : noise) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = char(x);
  }
  noise[0] = 'x'; // not a gzip or xz magic
  fsc::test::write_file(t / "random.bin", noise);
  for (auto name : {"passwd", "random.bin"}) {
    auto r = run_fsc({"refs", t / name});
    INFO(name << ": " << r.out << r.err);
    CHECK(r.status == 2);
    CHECK(r.err.find("'" + t / name + "': not a kernel trace") !=
          std::string::npos);
    CHECK(r.out.empty());
    CHECK(r.err.find("malformed") == std::string::npos);
  }
  // Named also when it comes after a good trace.
  auto r = run_fsc({"refs", fixture_trace("real-6.1-smoke"), t / "passwd"});
  CHECK(r.status == 2);
  CHECK(r.err.find("passwd': not a kernel trace") != std::string::npos);
  // A trace with no events (tracing was off) is a trace.
  fsc::test::write_file(t / "empty.trace", "# tracer: nop\n#\n");
  r = run_fsc({"refs", t / "empty.trace"});
  CHECK(r.status == 0);
}

TEST_CASE("refs --cookie/--object with an id the trace does not hold",
          "[refs][errors]")
{
  auto trace = fixture_trace("real-5.10-smoke");
  auto r = run_fsc({"refs", trace, "--cookie", "ffff91ce00000bad"});
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  CHECK(r.err.find("cookie c=ffff91ce00000bad is not in " + trace) !=
        std::string::npos);
  r = run_fsc({"refs", trace, "--object", "0xbad"});
  CHECK(r.status == 1);
  CHECK(r.err.find("object o=bad is not in") != std::string::npos);
  // An object's id given as a cookie: say which it is.
  r = run_fsc({"refs", trace, "--cookie", "ffff91ce827b1200"});
  CHECK(r.status == 1);
  CHECK(r.err.find("an object has that id: use --object") != std::string::npos);
  r = run_fsc({"refs", trace, "--object", "ffff91ce827b1200"});
  CHECK(r.status == 0);
  CHECK(r.out.find("timeline") != std::string::npos);
}

TEST_CASE("refs names each history a lost-events marker leaves unchecked",
          "[refs][lost]")
{
  // The real 6.1 smoke trace with the worker's last three lines of cookie 3
  // (PUT obj r=1, - x-rlq, PQ work r=0) lost on CPU 1.
  TempDir t;
  auto lines = fixture_lines("real-6.1-smoke");
  auto at = line_with(lines, "18.289303: fscache_cookie: c=00000003 PUT obj");
  lines.erase(lines.begin() + std::ptrdiff_t(at),
              lines.begin() + std::ptrdiff_t(at) + 3);
  lines.insert(lines.begin() + std::ptrdiff_t(at), "CPU:1 [LOST 3 EVENTS]");
  const auto marker = at + 1;
  fsc::test::write_file(t / "trace.txt", joined(lines));
  auto r = run_fsc({"refs", t / "trace.txt"});
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  CHECK(r.out.find(" leak ") == std::string::npos);
  CHECK(r.out.find(fmt::format(
            "unverifiable           c=3: count 2 after relinquish: possible "
            "leak; unverifiable: 3 events lost on CPU 1 (line {}) while it "
            "was alive",
            marker)) != std::string::npos);
  CHECK(r.out.find("3 events lost on CPU 1: the 10 histories alive") !=
        std::string::npos);
  CHECK(r.out.find("and 9 histories that lost events but ended without a "
                   "sign of trouble") != std::string::npos);
  r = run_fsc({"-v", "refs", t / "trace.txt"});
  CHECK(r.out.find("unverifiable-clean     c=5: freed at line") !=
        std::string::npos);
  r = run_fsc({"--json", "refs", t / "trace.txt"});
  auto j = nlohmann::json::parse(r.out);
  std::size_t named = 0;
  for (auto& f : records(j, "finding"))
    named += f["kind"].get<std::string>().rfind("unverifiable", 0) == 0;
  CHECK(named == 10);
}

namespace {

std::size_t count_of(const std::string& s, const std::string& what)
{
  std::size_t n = 0;
  for (auto at = s.find(what); at != std::string::npos;
       at = s.find(what, at + 1))
    ++n;
  return n;
}

/// The real 5.10 smoke trace, compressed by `tool` and cut in the middle of
/// the compressed bytes, as `cat trace_pipe | xz > t.xz` stopped with ^C.
std::string cut_trace(const TempDir& t, const std::string& tool,
                      const std::string& name)
{
  auto out = t / name;
  auto r = fsc::test::run_prog(
      {"sh", "-c",
       "xz -dc \"$1\" | $2 -c > \"$3.whole\" && "
       "head -c $(( $(stat -c %s \"$3.whole\") / 2 )) \"$3.whole\" > \"$3\"",
       "sh", fixture_trace("real-5.10-smoke"), tool, out});
  REQUIRE(r.status == 0);
  return out;
}

} // namespace

TEST_CASE("refs reads a truncated .xz or .gz trace up to the cut",
          "[refs][truncated]")
{
  TempDir t;
  for (auto [tool, name] : {std::pair{"xz", "cut.xz"}, {"gzip", "cut.gz"}}) {
    auto path = cut_trace(t, tool, name);
    auto r = run_fsc({"refs", path});
    INFO(name << ": " << r.out << r.err);
    CHECK(r.status == 1);
    CHECK(count_of(r.err, "input truncated after line") == 1);
    CHECK(r.err.find(name) != std::string::npos);
    CHECK(r.err.find("corrupt") == std::string::npos);
    CHECK(r.out.find("incomplete " + path + ": truncated after line") !=
          std::string::npos);
    CHECK(r.out.find("truncated-input") != std::string::npos);
    // Cookies alive at the cut are not called leaks.
    CHECK(r.out.find(" leak ") == std::string::npos);

    r = run_fsc({"--json", "refs", path});
    auto j = nlohmann::json::parse(r.out);
    CHECK(r.status == 1);
    CHECK(j["incomplete"] == true);
    REQUIRE(j["truncated"].size() == 1);
    CHECK(j["truncated"][0]["file"] == path);
    CHECK(j["truncated"][0]["after_line"].get<std::uint64_t>() > 1000);
    CHECK(j["lines"] == j["truncated"][0]["after_line"]);
    for (auto& f : records(j, "finding"))
      CHECK(f["kind"] != "leak");
  }
  // A whole file is complete.
  auto r = run_fsc({"--json", "refs", fixture_trace("real-5.10-smoke")});
  CHECK(r.status == 0);
  CHECK(nlohmann::json::parse(r.out)["incomplete"] == false);
}

TEST_CASE("replay --from-trace reads a truncated trace up to the cut",
          "[refs][truncated][replay]")
{
  // The same reader: the warning and the exit status come through.
  TempDir t;
  auto path = cut_trace(t, "xz", "cut.xz");
  auto r = run_fsc({"replay", "--from-trace", path, "--json"});
  INFO(r.out << r.err);
  CHECK(r.status == 1);
  CHECK(count_of(r.err, "input truncated after line") == 1);
  CHECK(r.err.find("corrupt") == std::string::npos);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["incomplete"] == true);
  CHECK(j["lines"].get<std::uint64_t>() > 1000);
}

TEST_CASE("refs --json TRACE: a bare --json takes no value (fsc-refs(8))",
          "[refs][json]")
{
  auto r = run_fsc({"refs", "--json", fixture_trace("real-6.1-smoke")});
  INFO(r.err);
  CHECK(r.status == 0);
  auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["finding_count"] == 0);
  CHECK(doc["incomplete"] == false);
}
