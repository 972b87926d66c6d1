// proc_stats.cpp - /proc/fs/fscache read back: the kernel's counters in
// any layout kept whole (unknown lines and keys too), the figures an admin
// asks for, their rates and their Prometheus families.
#include <fsc/fscache/proc_stats.hpp>

#include <fsc/error.hpp>
#include <fsc/fd.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <set>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fsc::fscache {
namespace {

std::string_view trim(std::string_view s)
{
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string_view::npos)
    return {};
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

std::vector<std::string_view> words(std::string_view s)
{
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    i = s.find_first_not_of(" \t\r", i);
    if (i == std::string_view::npos)
      break;
    auto e = std::min(s.find_first_of(" \t\r", i), s.size());
    out.push_back(s.substr(i, e - i));
    i = e;
  }
  return out;
}

std::optional<std::int64_t> integer(std::string_view s)
{
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size())
    return std::nullopt;
  return v;
}

// Calls f(line number, line) for each line of text (1-based numbers).
template <class F> void each_line(std::string_view text, F&& f)
{
  std::size_t n = 0, i = 0;
  while (i < text.size()) {
    auto e = std::min(text.find('\n', i), text.size());
    f(++n, text.substr(i, e - i));
    i = e + 1;
  }
}

bool is_banner(std::string_view line)
{
  // 4.19 and 6.1 open with the first, 6.12 puts the second between the
  // netfs lines and the FS-Cache ones.
  return line == "FS-Cache statistics" || line == "-- FS-Cache statistics --";
}

StatSection& section_named(ProcStats& s, std::string_view name)
{
  for (auto& sec : s.sections)
    if (sec.name == name)
      return sec;
  s.sections.push_back({std::string(name), {}});
  return s.sections.back();
}

// A key already in the section (the same name on two lines with one key in
// common) becomes key.2, key.3...: kept, and still one series per key.
std::string distinct_key(const StatSection& sec, std::string_view key)
{
  std::string k(key);
  for (int n = 2; sec.get(k); ++n)
    k = fmt::format("{}.{}", key, n);
  return k;
}

// "Name : k=v k=v": false (and why) unless every word is key=integer.
bool parse_counter_line(ProcStats& s, std::string_view line, std::string& why)
{
  const auto colon = line.find(':');
  const auto name = trim(line.substr(0, colon));
  if (name.empty() || name.find_first_of(" \t") != std::string_view::npos) {
    why = "no section name before ':'";
    return false;
  }
  std::vector<std::pair<std::string_view, std::int64_t>> fields;
  for (auto w : words(line.substr(colon + 1))) {
    const auto eq = w.find('=');
    auto v =
        eq == std::string_view::npos ? std::nullopt : integer(w.substr(eq + 1));
    if (eq == 0 || !v) {
      why = fmt::format("'{}' is not key=number", w);
      return false;
    }
    fields.emplace_back(w.substr(0, eq), *v);
  }
  if (fields.empty()) {
    why = "no key=number after ':'";
    return false;
  }
  auto& sec = section_named(s, name);
  for (auto& [k, v] : fields)
    sec.fields.emplace_back(distinct_key(sec, k), v);
  return true;
}

std::string read_text(const std::string& path)
{
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd)
    throw_sys("cannot read", path, errno);
  // /proc files say size 0: read to the end.
  std::string out;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      throw_sys("cannot read", path, errno);
    if (n == 0)
      return out;
    out.append(buf, std::size_t(n));
  }
}

bool exists(const std::string& path, bool dir)
{
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return false;
  return dir ? S_ISDIR(st.st_mode) : true;
}

// A copy of every file of /proc/fs/fscache in one text, each after a
// "==== /proc/fs/fscache/NAME" line (how bug reports and our fixtures
// collect them): name → text.
std::vector<std::pair<std::string, std::string>>
split_dump(std::string_view text)
{
  std::vector<std::pair<std::string, std::string>> files;
  each_line(text, [&](std::size_t, std::string_view line) {
    if (line.rfind("==== /", 0) == 0) {
      auto path = trim(line.substr(5));
      files.emplace_back(std::string(path.substr(path.rfind('/') + 1)), "");
    } else if (!files.empty()) {
      files.back().second += std::string(line) + "\n";
    }
  });
  return files;
}

std::optional<std::int64_t>
sum(const ProcStats& s,
    std::initializer_list<std::pair<const char*, const char*>> keys)
{
  std::optional<std::int64_t> total;
  for (auto [sec, key] : keys)
    if (auto v = s.get(sec, key))
      total = total.value_or(0) + *v;
  return total;
}

// 4.19 (fs/fscache/stats.c; counted in fs/fscache/{cookie,object,page}.c):
// acquires = Acquire n (fscache_acquire_cookie calls); lookups = Lookups n
// (backend lookups started); cache reads = Retrvls ok (read_or_alloc_page(s)
// calls that submitted a read from the cache, one per call, not per page);
// server reads = Retrvls nod + nbf (calls answered -ENODATA: not in the
// cache, or -ENOBUFS: no usable cache object; the netfs then reads the
// server); created = Lookups crt; culled = CacheEv cul (objects the cache
// killed by culling); rejected = ChkAux obs (the netfs's check_aux said
// obsolete: the object is thrown away); no space = CacheEv nsp (which also
// counts stale-object retries, fscache_object_retrying_stale); no I/O error
// counter; invalidations = Invals n.
void figures_419(const ProcStats& s, StatsFigures& f)
{
  f.acquires = s.get("Acquire", "n");
  f.lookups = s.get("Lookups", "n");
  f.cache_reads = s.get("Retrvls", "ok");
  f.server_reads = sum(s, {{"Retrvls", "nod"}, {"Retrvls", "nbf"}});
  f.objects_created = s.get("Lookups", "crt");
  f.objects_culled = s.get("CacheEv", "cul");
  f.objects_rejected = s.get("ChkAux", "obs");
  f.no_space = s.get("CacheEv", "nsp");
  f.invalidations = s.get("Invals", "n");
}

// 5.17 to 6.11 (fs/fscache/stats.c, fs/netfs/stats.c): the FS-Cache part
// has no lookup, creation or rejection counters. culled = NoSpace cull
// (fscache_n_culled, counted in cachefiles_cull); no space = NoSpace nwr +
// ncr (writes and creations refused for space); cache reads = RdHelp RD
// (netfs_n_rh_read: read-helper subrequests served by the cache), server
// reads = RdHelp DL (netfs_n_rh_download); I/O errors = RdHelp df + rf + wf
// (downloads, cache reads, cache writes that failed). Not IO rd: cachefiles
// counts it before seeking for data, so a read that finds a hole counts
// too (an NFS client on 6.1 does not use the read helpers and leaves RdHelp
// at 0, while IO rd grows with every page it tries in the cache). Later
// 6.x print the read-helper lines as `Netfs  :`.
void figures_61(const ProcStats& s, StatsFigures& f)
{
  const char* rh = s.section("RdHelp") ? "RdHelp" : "Netfs";
  f.acquires = s.get("Acquire", "n");
  f.cache_reads = s.get(rh, "RD");
  f.server_reads = s.get(rh, "DL");
  f.objects_culled = s.get("NoSpace", "cull");
  f.no_space = sum(s, {{"NoSpace", "nwr"}, {"NoSpace", "ncr"}});
  f.io_errors = sum(s, {{rh, "df"}, {rh, "rf"}, {rh, "wf"}});
  f.invalidations = s.get("Invals", "n");
}

// 6.12 (fs/netfs/stats.c, fs/netfs/fscache_stats.c): cache reads = IO rd
// (fscache_n_read, counted in cachefiles_issue_read once netfs has chosen
// the cache as the source); server reads = DownOps DL
// (netfs_n_rh_download); I/O errors = DownOps df + CaRdOps rf + UpldOps uf
// + CaWrOps wf; the rest as 6.1.
void figures_612(const ProcStats& s, StatsFigures& f)
{
  f.acquires = s.get("Acquire", "n");
  f.cache_reads = s.get("IO", "rd");
  f.server_reads = s.get("DownOps", "DL");
  f.objects_culled = s.get("NoSpace", "cull");
  f.no_space = sum(s, {{"NoSpace", "nwr"}, {"NoSpace", "ncr"}});
  f.io_errors = sum(s, {{"DownOps", "df"},
                        {"CaRdOps", "rf"},
                        {"UpldOps", "uf"},
                        {"CaWrOps", "wf"}});
  f.invalidations = s.get("Invals", "n");
}

} // namespace

std::optional<std::int64_t> StatSection::get(std::string_view key) const
{
  for (auto& [k, v] : fields)
    if (k == key)
      return v;
  return std::nullopt;
}

const StatSection* ProcStats::section(std::string_view name) const
{
  for (auto& s : sections)
    if (s.name == name)
      return &s;
  return nullptr;
}

std::optional<std::int64_t> ProcStats::get(std::string_view sec,
                                           std::string_view key) const
{
  auto* s = section(sec);
  return s ? s->get(key) : std::nullopt;
}

const ProcTable* ProcStats::table(std::string_view file) const
{
  for (auto& t : tables)
    if (t.file == file)
      return &t;
  return nullptr;
}

void parse_stats(ProcStats& s, std::string_view text, std::string_view file)
{
  each_line(text, [&](std::size_t n, std::string_view line) {
    const auto t = trim(line);
    if (t.empty() || is_banner(t))
      return;
    RawLine raw{std::string(file), n, std::string(line)};
    std::string why;
    if (t.find(':') == std::string_view::npos) {
      s.raw.push_back(std::move(raw)); // not ours to judge: shown as is
    } else if (!parse_counter_line(s, t, why)) {
      s.warnings.push_back({std::string(file), n, "malformed line: " + why});
      s.raw.push_back(std::move(raw));
    }
  });
  s.layout = detect_layout(s);
  s.figures = derive_figures(s);
}

void parse_caches(ProcStats& s, std::string_view text, std::string_view file)
{
  s.has_caches = true;
  each_line(text, [&](std::size_t n, std::string_view line) {
    const auto w = words(line);
    if (w.empty() || w[0] == "CACHE" || w[0].rfind("====", 0) == 0)
      return;
    std::optional<std::int64_t> num[4];
    for (std::size_t i = 0; i < 4 && i + 1 < w.size(); ++i)
      num[i] = integer(w[i + 1]);
    if (w.size() < 6 || !num[0] || !num[1] || !num[2] || !num[3]) {
      s.warnings.push_back({std::string(file), n,
                            "malformed line: not CACHE REF VOLS OBJS ACCES "
                            "S NAME"});
      s.raw.push_back({std::string(file), n, std::string(line)});
      return;
    }
    CacheRow c{std::string(w[0]), *num[0],           *num[1], *num[2],
               *num[3],           std::string(w[5]), ""};
    if (w.size() > 6) // the name is the rest of the line
      c.name = std::string(
          trim(line.substr(std::size_t(w[6].data() - line.data()))));
    s.caches.push_back(std::move(c));
  });
}

ProcTable parse_table(std::string_view text, std::string_view file)
{
  ProcTable t{std::string(file), {}};
  // Rows follow the "==== ===" rule under the header; without a rule,
  // every line after the first.
  const bool ruled = text.find("\n====") != std::string_view::npos;
  bool rows = false;
  each_line(text, [&](std::size_t n, std::string_view line) {
    if (trim(line).empty())
      return;
    if (rows)
      t.rows.emplace_back(line);
    else if (ruled ? line.rfind("====", 0) == 0 : n == 1)
      rows = true;
  });
  return t;
}

ProcStats read_proc_fscache(const std::string& dir)
{
  ProcStats s;
  auto add = [&](const std::string& name, std::string_view text) {
    if (name == "stats")
      parse_stats(s, text, name);
    else if (name == "caches")
      parse_caches(s, text, name);
    else
      s.tables.push_back(parse_table(text, name));
  };
  if (!exists(dir, false))
    throw Error(fmt::format("no FS-Cache here: '{}' does not exist (no "
                            "fscache/netfs module loaded, or a kernel "
                            "without FS-Cache)",
                            dir));
  if (!exists(dir, true)) { // one file holding a copy of every file
    auto files = split_dump(read_text(dir));
    bool stats = false;
    for (auto& [name, text] : files)
      stats = stats || name == "stats";
    if (!stats)
      throw Error(fmt::format("no FS-Cache statistics in '{}': not a "
                              "directory, nor a copy with a '==== "
                              "/proc/fs/fscache/stats' part",
                              dir));
    for (auto& [name, text] : files)
      add(name, text);
    return s;
  }
  if (!exists(dir + "/stats", false))
    throw Error(fmt::format("no FS-Cache statistics: '{}/stats' does not "
                            "exist (a kernel without CONFIG_FSCACHE_STATS)",
                            dir));
  add("stats", read_text(dir + "/stats"));
  for (const char* name :
       {"caches", "volumes", "cookies", "objects", "requests"})
    if (exists(dir + "/" + name, false))
      add(name, read_text(dir + "/" + name));
  return s;
}

std::string detect_layout(const ProcStats& s)
{
  if (s.section("DownOps") || s.section("CaRdOps"))
    return "6.12";
  if (s.section("Retrvls") || s.section("Lookups") || s.get("Cookies", "idx"))
    return "4.19";
  if (s.section("NoSpace") || s.section("RdHelp") || s.section("Netfs") ||
      s.get("Cookies", "v"))
    return "6.1";
  return "unknown";
}

StatsFigures derive_figures(const ProcStats& s)
{
  StatsFigures f;
  if (s.layout == "4.19")
    figures_419(s, f);
  else if (s.layout == "6.12")
    figures_612(s, f);
  else if (s.layout == "6.1")
    figures_61(s, f);
  if (f.cache_reads && f.server_reads && *f.cache_reads + *f.server_reads > 0)
    f.hit_ratio =
        double(*f.cache_reads) / double(*f.cache_reads + *f.server_reads);
  return f;
}

std::optional<double> figure_rate(std::optional<std::int64_t> before,
                                  std::optional<std::int64_t> after,
                                  double seconds)
{
  if (!before || !after || seconds <= 0)
    return std::nullopt;
  // Counters only grow; a smaller value means they restarted from zero.
  const std::int64_t d = *after >= *before ? *after - *before : *after;
  return double(d) / seconds;
}

std::vector<StatRate> stat_rates(const ProcStats& before,
                                 const ProcStats& after, double seconds)
{
  std::vector<StatRate> out;
  for (auto& sec : after.sections)
    for (auto& [k, v] : sec.fields)
      if (auto r = figure_rate(before.get(sec.name, k), v, seconds))
        out.push_back({sec.name, k, *r});
  return out;
}

void stats_metrics(Metrics& m, const ProcStats& s)
{
  m.set("fsc_fscache_info", {{"layout", s.layout}}, 1);
  // Sections are merged by name and keys made distinct when parsed: one
  // series each.
  for (auto& sec : s.sections)
    for (auto& [k, v] : sec.fields)
      m.set("fsc_fscache_stat_total", {{"section", sec.name}, {"field", k}},
            double(v));
  if (s.figures.cache_reads)
    m.set("fsc_fscache_reads_total", {{"source", "cache"}},
          double(*s.figures.cache_reads));
  if (s.figures.server_reads)
    m.set("fsc_fscache_reads_total", {{"source", "server"}},
          double(*s.figures.server_reads));
  std::set<std::string> tags; // the kernel refuses a second cache by a tag
  for (auto& c : s.caches) {
    if (!tags.insert(c.name).second)
      continue;
    m.set("fsc_fscache_cache_volumes", {{"tag", c.name}}, double(c.volumes));
    m.set("fsc_fscache_cache_objects", {{"tag", c.name}}, double(c.objects));
  }
  if (auto* t = s.table("cookies"))
    m.set("fsc_fscache_cookies", {}, double(t->rows.size()));
}

} // namespace fsc::fscache
