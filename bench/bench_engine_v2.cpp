// bench_engine_v2.cpp - the 6.1 engine's speed on one core: the NFS page
// pattern of docs/engine-v2.md §5.2 (per file: acquire, use, a read and a
// write begun and ended for each of 256 pages, unuse, relinquish) on the
// in-memory CacheFiles backend, traced to /dev/null through the 6.1
// writer (as `fsc replay --trace /dev/null`) and untraced. An event is a
// trace line; the untraced run makes the same events and prints none.
// Usage: bench_engine_v2 [FILES] [ROUNDS]
#include <fsc/fscache/v2/engine.hpp>
#include <fsc/fscache/v2/memory_backend.hpp>
#include <fsc/trace/writer_v2.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace fsc::fscache::v2;

namespace {

fsc::Bytes bytes(const std::string& s) { return fsc::Bytes(s.begin(), s.end()); }

void nfs_files(Observer& obs, int files)
{
  MemoryBackend be;
  Engine e(be, obs);
  e.add_cache();
  VolumeId v = e.acquire_volume("bench");
  e.run();
  for (int f = 0; f < files; ++f) {
    CookieId c = e.acquire_cookie(v, bytes("file-" + std::to_string(f)),
                                  bytes("aux"), 1 << 20);
    e.use_cookie(c, false);
    e.run();
    for (std::uint64_t pg = 0; pg < 256; ++pg) {
      OpId rd = e.begin_read(c);
      (void)e.read(rd, pg * 4096, 4096);
      e.end_operation(rd);
      OpId wr = e.begin_write(c);
      (void)e.write(wr, pg * 4096, 4096);
      e.end_operation(wr);
    }
    e.unuse_cookie(c);
    e.relinquish_cookie(c, false);
    e.run();
  }
}

template <class F> double seconds(F f)
{
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
      .count();
}

double median(std::vector<double> v)
{
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv)
{
  const int files = argc > 1 ? std::atoi(argv[1]) : 2000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  std::FILE* null = std::fopen("/dev/null", "w");
  if (!null || files <= 0 || rounds <= 0) {
    std::fprintf(stderr, "usage: bench_engine_v2 [FILES] [ROUNDS]\n");
    return 2;
  }
  std::uint64_t events = 0;
  std::vector<double> traced, quiet;
  for (int r = 0; r < rounds; ++r) { // in turns: drift hits both alike
    fsc::trace::FtraceWriterV2 w(null);
    traced.push_back(seconds([&] { nfs_files(w, files); }));
    events = w.lines();
    Observer none;
    quiet.push_back(seconds([&] { nfs_files(none, files); }));
  }
  std::fclose(null);
  const double t = median(traced), q = median(quiet);
  std::printf("6.1 engine, NFS page pattern, %d files of 1 MiB, one core, "
              "median of %d\n",
              files, rounds);
  std::printf("  events (trace lines)   %llu\n",
              static_cast<unsigned long long>(events));
  std::printf("  traced to /dev/null    %.3f s  %.2f M events/s  (target >= 1 M)\n",
              t, double(events) / t / 1e6);
  std::printf("  untraced               %.3f s  %.2f M events/s\n", q,
              double(events) / q / 1e6);
  std::printf("  trace writing costs    %.2fx the untraced time\n", t / q);
  return 0;
}
