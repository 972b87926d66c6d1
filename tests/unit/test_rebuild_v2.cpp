// test_rebuild_v2.cpp - a 6.1 trace back to its netfs calls: the engine's
// own trace (collisions, a retire, a page write, withdrawal) is rebuilt
// into the calls that made it and replays with no divergence; an edited
// count in it is found at its line.
#include <catch2/catch.hpp>

#include "tree.hpp"

#include <fsc/fscache/v2/engine.hpp>
#include <fsc/fscache/v2/memory_backend.hpp>
#include <fsc/trace/rebuild_v2.hpp>
#include <fsc/trace/writer_v2.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>

namespace v2 = fsc::fscache::v2;
using fsc::trace::V2Call;

namespace {

fsc::Bytes bytes(std::string_view s) { return fsc::Bytes(s.begin(), s.end()); }

/// Runs calls that reach a collision of each kind and writes the engine's
/// trace to `path`: c=00000002 (A), a duplicate of it, then its twin.
void write_engine_trace(const std::string& path)
{
  std::FILE* f = std::fopen(path.c_str(), "we");
  REQUIRE(f);
  fsc::trace::FtraceWriterV2 w(f);
  w.header();
  v2::MemoryBackend be;
  v2::Engine e(be, w);
  REQUIRE(e.add_cache() == 0);
  v2::VolumeId v = e.acquire_volume("test,vol");
  e.run();
  v2::CookieId a = e.acquire_cookie(v, bytes("k"), bytes("aux1"), 8192);
  // Row 1a: the same key while A lives: DISCARD.
  CHECK(e.acquire_cookie(v, bytes("k"), bytes("aux1"), 8192) == 0);
  e.use_cookie(a, true);
  e.run();
  v2::OpId op = e.begin_write(a);
  int io = e.write(op, 0, 4096, false);
  REQUIRE(io > 0);
  e.complete_write(io);
  e.end_operation(op);
  std::uint64_t size = 8192;
  fsc::Bytes aux = bytes("aux2");
  e.unuse_cookie(a, &aux, &size);
  e.relinquish_cookie(a, true);
  // Row 1b: the same key again while A is being relinquished: it waits.
  v2::CookieId c = e.acquire_cookie(v, bytes("k"), bytes("aux1"), 0);
  e.run();
  e.relinquish_cookie(c, false);
  e.run();
  e.relinquish_volume(v);
  e.withdraw_cache();
  e.run();
  CHECK(e.check_counts().empty());
  std::fclose(f);
}

std::vector<std::string> lines_of(const std::string& path)
{
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);)
    out.push_back(l);
  return out;
}

} // namespace

TEST_CASE("rebuild_v2: the engine's own trace replays with no divergence",
          "[trace][rebuild_v2]")
{
  fsc::test::TempDir t;
  const std::string path = t / "engine.trace";
  write_engine_trace(path);
  CHECK(fsc::trace::trace_generation(path) == fsc::trace::Gen::v61);

  fsc::trace::V2Rebuilt rb = fsc::trace::rebuild_v2(path);
  CHECK(rb.gen == fsc::trace::Gen::v61);
  CHECK(rb.cookies == 3);
  CHECK(rb.volumes == 1);
  // The duplicate and the waiting acquire take A's key.
  std::vector<std::uint32_t> twins;
  bool retired = false, write = false;
  for (const V2Call& k : rb.calls) {
    if (k.kind == V2Call::acquire_cookie && k.twin)
      twins.push_back(k.twin);
    retired = retired || (k.kind == V2Call::relinquish && k.flag);
    write = write || (k.kind == V2Call::write && k.len == 4096);
  }
  CHECK(twins == std::vector<std::uint32_t>{2, 2});
  CHECK(retired);
  CHECK(write);

  fsc::trace::V2Replay r = fsc::trace::replay_v2(rb, std::nullopt);
  INFO(r.d.line << ": " << r.d.trace_step << " / " << r.d.engine_step);
  CHECK_FALSE(r.d.found);
  CHECK(r.compared > 50);
  CHECK(r.findings.empty());
}

TEST_CASE("rebuild_v2: volume collisions replay with the key of the volume "
          "they collide with",
          "[trace][rebuild_v2]")
{
  fsc::test::TempDir t;
  const std::string path = t / "volumes.trace";
  {
    std::FILE* f = std::fopen(path.c_str(), "we");
    REQUIRE(f);
    fsc::trace::FtraceWriterV2 w(f);
    w.header();
    v2::MemoryBackend be;
    v2::Engine e(be, w);
    REQUIRE(e.add_cache() == 0);
    v2::VolumeId v = e.acquire_volume("test,vol");
    e.run();
    // §3.2 row 3: the same key while it lives: refused (-EBUSY).
    CHECK(e.acquire_volume("test,vol") == 0);
    v2::CookieId c = e.acquire_cookie(v, bytes("k"), bytes("aux1"), 0);
    // Row 3': relinquished but held by its cookie: the new one waits.
    e.relinquish_volume(v);
    v2::VolumeId w2 = e.acquire_volume("test,vol");
    e.run();
    e.relinquish_cookie(c, false);
    e.run();
    CHECK(e.volume_info(w2).exists);
    e.relinquish_volume(w2);
    e.withdraw_cache();
    e.run();
    CHECK(e.check_counts().empty());
    std::fclose(f);
  }
  fsc::trace::V2Rebuilt rb = fsc::trace::rebuild_v2(path);
  std::vector<std::uint32_t> twins;
  for (const V2Call& k : rb.calls)
    if (k.kind == V2Call::acquire_volume && k.twin)
      twins.push_back(k.twin);
  CHECK(twins == std::vector<std::uint32_t>{1, 1});
  fsc::trace::V2Replay r = fsc::trace::replay_v2(rb, std::nullopt);
  INFO(r.d.line << ": " << r.d.trace_step << " / " << r.d.engine_step);
  CHECK_FALSE(r.d.found);
  CHECK(r.findings.empty());
}

TEST_CASE("rebuild_v2: a file a lookup found is there in the replay, "
          "coherent or not as the trace shows",
          "[trace][rebuild_v2]")
{
  // The same file read in two lives of its cookie (a remount): the second
  // lookup finds what the first committed, coherent; a third, with other
  // aux, finds it stale. The replay's keys are its own, so only what the
  // trace shows of the lookups can put the files there.
  fsc::test::TempDir t;
  const std::string path = t / "found.trace";
  {
    std::FILE* f = std::fopen(path.c_str(), "we");
    REQUIRE(f);
    fsc::trace::FtraceWriterV2 w(f);
    w.header();
    v2::MemoryBackend be;
    v2::Engine e(be, w);
    REQUIRE(e.add_cache() == 0);
    v2::VolumeId v = e.acquire_volume("test,vol");
    e.run();
    for (const char* aux : {"aux1", "aux1", "aux2"}) {
      v2::CookieId c = e.acquire_cookie(v, bytes("k"), bytes(aux), 8192);
      e.use_cookie(c, false);
      e.run();
      v2::OpId op = e.begin_write(c);
      int io = e.write(op, 0, 4096, false);
      REQUIRE(io > 0);
      e.complete_write(io);
      e.end_operation(op);
      std::uint64_t size = 8192;
      fsc::Bytes a = bytes(aux);
      e.unuse_cookie(c, &a, &size);
      e.relinquish_cookie(c, false);
      e.run();
    }
    e.relinquish_volume(v);
    e.withdraw_cache();
    e.run();
    std::fclose(f);
  }
  fsc::trace::V2Rebuilt rb = fsc::trace::rebuild_v2(path);
  CHECK(rb.found ==
        std::map<std::uint32_t, std::string>{{3, "OK"}, {4, "BAD aux"}});
  fsc::trace::V2Replay r = fsc::trace::replay_v2(rb, std::nullopt);
  INFO(r.d.line << ": " << r.d.trace_step << " / " << r.d.engine_step);
  CHECK_FALSE(r.d.found);
}

TEST_CASE("rebuild_v2: an edited count of the engine's trace is found at "
          "its line",
          "[trace][rebuild_v2]")
{
  fsc::test::TempDir t;
  const std::string path = t / "engine.trace";
  write_engine_trace(path);
  std::vector<std::string> lines = lines_of(path);
  auto it = std::find_if(lines.begin(), lines.end(), [](const auto& l) {
    return l.find("fscache_cookie: c=00000002 GET attch r=3") !=
           std::string::npos;
  });
  REQUIRE(it != lines.end());
  it->replace(it->find("r=3"), 3, "r=4");
  {
    std::ofstream out(t / "edited.trace");
    for (const auto& l : lines)
      out << l << '\n';
  }
  fsc::trace::V2Replay r = fsc::trace::replay_v2(
      fsc::trace::rebuild_v2(t / "edited.trace"), std::nullopt);
  CHECK(r.d.found);
  CHECK(r.d.line == std::uint64_t(it - lines.begin() + 1));
  CHECK(r.d.thing == "c=00000002");
  CHECK(r.d.engine_step == "fscache_cookie: c=00000002 GET attch r=3");
}

TEST_CASE("rebuild_v2: no 6.x event is an error naming the file",
          "[trace][rebuild_v2]")
{
  fsc::test::TempDir t;
  std::ofstream(t / "empty.trace") << "# tracer: nop\n";
  CHECK(fsc::trace::trace_generation(t / "empty.trace") ==
        fsc::trace::Gen::unknown);
  CHECK_THROWS_WITH(fsc::trace::rebuild_v2(t / "empty.trace"),
                    Catch::Contains("empty.trace"));
}

TEST_CASE("rebuild_v2: a tie's lines run in the order their counts show, "
          "not the order ftrace printed them",
          "[trace][rebuild_v2]")
{
  // Two kworkers write c=00000006 while the clock stands still (excerpt
  // 8661-8667): CPU 0's BEGIN io_writ a=2 and GET ioreq u=2 print first,
  // CPU 1's PUT ioreq u=2, END io a=0, BEGIN io_writ a=1 and GET ioreq
  // u=1 came before them.
  fsc::trace::V2Rebuilt rb = fsc::trace::rebuild_v2(
      fsc::test::fixtures_dir() + "/kernel-suite-6.1/tie-writers-V01.txt.xz");
  auto has = [&rb](const std::string& s) {
    return std::find(rb.late.begin(), rb.late.end(), s) != rb.late.end();
  };
  CHECK(has("8664->8662"));
  CHECK(has("8665->8661"));
  CHECK(has("8666->8661"));
  CHECK(has("8667->8662"));
  for (const std::string& s : rb.late) {
    INFO(s);
    CHECK(s.rfind("8661->", 0) != 0);
    CHECK(s.rfind("8662->", 0) != 0);
  }
}
