// daemon_config.cpp - cachefilesd.conf parsing (daemon and kernel halves) and
// the kernel's free-space limit arithmetic.
#include <fsc/cachefiles/daemon_config.hpp>

#include <fsc/error.hpp>
#include <fsc/hex.hpp>

#include <fmt/format.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

namespace fsc::cachefiles {
namespace {

// The C locale's isspace, which both cachefilesd and the kernel use.
bool is_space(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
         c == '\r';
}

unsigned page_size_or(unsigned p)
{
  if (p != 0)
    return p;
  long s = sysconf(_SC_PAGESIZE);
  return s > 0 ? unsigned(s) : 4096u;
}

// "word followed by whitespace" (daemon keyword match after leading blanks).
bool starts_word_space(std::string_view s, std::string_view w)
{
  return s.size() > w.size() && s.substr(0, w.size()) == w &&
         is_space(s[w.size()]);
}

// "word followed by whitespace or the end".
bool starts_word_end(std::string_view s, std::string_view w)
{
  return s.substr(0, w.size()) == w &&
         (s.size() == w.size() || is_space(s[w.size()]));
}

// strtoul(base 10) as the daemon uses it: leading blanks and one sign are
// accepted; returns the value and where parsing stopped.
std::uint64_t c_strtoul10(std::string_view s, std::size_t& end)
{
  std::size_t i = 0;
  while (i < s.size() && is_space(s[i]))
    ++i;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    neg = s[i] == '-';
    ++i;
  }
  std::size_t digits_at = i;
  std::uint64_t v = 0;
  bool overflow = false;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    std::uint64_t d = std::uint64_t(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10)
      overflow = true;
    v = v * 10 + d;
    ++i;
  }
  if (i == digits_at) { // no digits: nothing consumed
    end = 0;
    return 0;
  }
  end = i;
  if (overflow)
    return UINT64_MAX;
  return neg ? std::uint64_t(0) - v : v;
}

// The kernel's simple_strtoul: no blanks, no sign; base 0 picks 8/10/16
// from the prefix. Wraps silently on overflow, like the kernel.
std::uint64_t kernel_strtoul(std::string_view s, unsigned base,
                             std::size_t& end)
{
  std::size_t i = 0;
  if (base == 0) {
    if (s.size() >= 1 && s[0] == '0') {
      if (s.size() >= 3 && (s[1] == 'x' || s[1] == 'X') &&
          std::isxdigit(static_cast<unsigned char>(s[2])))
        base = 16;
      else
        base = 8;
    } else {
      base = 10;
    }
  }
  if (base == 16 && s.size() >= 2 && s[0] == '0' &&
      (s[1] == 'x' || s[1] == 'X'))
    i = 2;
  std::uint64_t v = 0;
  for (; i < s.size(); ++i) {
    const int d = hex_digit(s[i]);
    if (d < 0 || unsigned(d) >= base)
      break;
    v = v * base + unsigned(d);
  }
  end = i;
  return v;
}

bool has_trailing_blank(std::string_view s)
{
  return !s.empty() && is_space(s.back());
}

class Parser {
public:
  Parser(DaemonConfig& c, const ConfigReadOptions& o) : m_c(c), m_opt(o) {}

  void line(std::string_view raw, unsigned lineno);

private:
  void error(unsigned line, std::string msg, int exit_code = 2)
  {
    m_c.errors.push_back({m_c.file, line, std::move(msg), exit_code});
  }
  void warn(unsigned line, std::string msg)
  {
    m_c.warnings.push_back({m_c.file, line, std::move(msg), 0});
  }
  void kernel_error(unsigned line, int err, std::string_view detail)
  {
    error(line, fmt::format("CacheFiles gave config error: {} ({})",
                            errno_text(err), detail));
  }
  void kernel(std::string_view line, unsigned lineno);
  void percent(std::string_view cmd, std::string_view args, unsigned lineno);

  DaemonConfig& m_c;
  const ConfigReadOptions& m_opt;
  bool m_dir_sent = false, m_tag_sent = false, m_secctx_sent = false;
};

void Parser::line(std::string_view raw, unsigned lineno)
{
  // raw has no newline. Leading blanks are skipped only for recognition.
  std::size_t i = 0;
  while (i < raw.size() && is_space(raw[i]))
    ++i;
  std::string_view cp = raw.substr(i);
  if (cp.empty() || cp[0] == '#')
    return;

  if (starts_word_end(cp, "nocull")) {
    // cachefilesd notes it, then (no `continue`) also sends it on.
    m_c.nocull = true;
    m_c.set_on["nocull"] = lineno;
  }
  if (starts_word_space(cp, "culltable")) {
    std::string_view sp = cp.substr(10);
    std::size_t end = 0;
    std::uint64_t n = c_strtoul10(sp, end);
    if (end != sp.size())
      error(lineno, "Invalid cull table size number");
    else if (n < 12 || n > 20)
      error(lineno, "Log2 of cull table size must be 12 <= N <= 20");
    else {
      if (m_c.from_file("culltable"))
        warn(lineno, fmt::format("culltable given again (line {} is "
                                 "overridden)",
                                 m_c.line_of("culltable")));
      m_c.culltable_log2 = unsigned(n);
      m_c.set_on["culltable"] = lineno;
    }
    return;
  }
  // cachefilesd compares 18 bytes of "resume_thresholds" (17 characters):
  // the terminating NUL never matches, so the line goes to the kernel.
  if (starts_word_space(cp, "dir")) {
    std::string_view sp = cp.substr(4);
    while (!sp.empty() && is_space(sp[0]))
      sp.remove_prefix(1);
    if (sp.size() > PATH_MAX - 10) {
      error(lineno, "Cache pathname is too long");
      return;
    }
    struct stat st;
    if (m_opt.check_dir && ::stat(std::string(sp).c_str(), &st) < 0) {
      error(lineno,
            fmt::format("Can't confirm cache location '{}': {}",
                        std::string(sp), errno_text(errno)),
            1);
      return;
    }
  }
  if (starts_word_end(cp, "bind")) {
    error(lineno, "'bind' command not permitted");
    return;
  }
  kernel(raw, lineno);
}

// cachefiles_daemon_write() and the command handlers.
void Parser::kernel(std::string_view data, unsigned lineno)
{
  std::size_t w = 0;
  while (w < data.size() && !is_space(data[w]))
    ++w;
  if (w == 0) {
    kernel_error(lineno, EOPNOTSUPP,
                 "the kernel refuses directives that begin with blanks");
    return;
  }
  std::string_view cmd = data.substr(0, w);
  std::string_view args = data.substr(w);
  while (!args.empty() && is_space(args[0]))
    args.remove_prefix(1);

  if (cmd == "brun" || cmd == "bcull" || cmd == "bstop" || cmd == "frun" ||
      cmd == "fcull" || cmd == "fstop") {
    percent(cmd, args, lineno);
  } else if (cmd == "dir") {
    if (args.empty())
      kernel_error(lineno, EINVAL, "empty directory specified");
    else if (m_dir_sent)
      kernel_error(lineno, EEXIST, "second cache directory specified");
    else {
      m_dir_sent = true;
      m_c.dir = std::string(args);
      m_c.set_on["dir"] = lineno;
      if (has_trailing_blank(args))
        warn(lineno, "trailing blanks are part of the dir path");
    }
  } else if (cmd == "tag") {
    if (args.empty())
      kernel_error(lineno, EINVAL, "empty tag specified");
    else if (m_tag_sent)
      kernel_error(lineno, EEXIST, "second tag specified");
    else {
      m_tag_sent = true;
      m_c.tag = std::string(args);
      m_c.set_on["tag"] = lineno;
      if (has_trailing_blank(args))
        warn(lineno, "trailing blanks are part of the tag");
    }
  } else if (cmd == "secctx") {
    if (args.empty())
      kernel_error(lineno, EINVAL, "empty security context specified");
    else if (m_secctx_sent)
      kernel_error(lineno, EINVAL, "second security context specified");
    else {
      m_secctx_sent = true;
      m_c.secctx = std::string(args);
      m_c.set_on["secctx"] = lineno;
    }
  } else if (cmd == "debug") {
    std::size_t end = 0;
    std::uint64_t mask = kernel_strtoul(args, 0, end);
    if (end != args.size())
      kernel_error(lineno, EINVAL, "debug command requires mask");
    else {
      m_c.debug_mask = mask;
      m_c.set_on["debug"] = lineno;
    }
  } else if (cmd == "cull" || cmd == "inuse") {
    if (args.find('/') != std::string_view::npos)
      kernel_error(lineno, EINVAL,
                   fmt::format("{} command requires dirfd and filename", cmd));
    else
      kernel_error(lineno, EIO,
                   fmt::format("{} applied to unready cache", cmd));
  } else if (cmd == "nocull") {
    kernel_error(lineno, EOPNOTSUPP,
                 "cachefilesd also sends 'nocull' to the kernel, which does "
                 "not know it; use cachefilesd -N");
  } else if (cmd == "resume_thresholds") {
    kernel_error(lineno, EOPNOTSUPP,
                 "cachefilesd 0.10.x never recognises resume_thresholds and "
                 "sends it to the kernel");
  } else {
    kernel_error(lineno, EOPNOTSUPP,
                 fmt::format("unknown directive '{}'", cmd));
  }
}

void Parser::percent(std::string_view cmd, std::string_view args,
                     unsigned lineno)
{
  const bool blocks = cmd[0] == 'b';
  PercentLimits& l = blocks ? m_c.blocks : m_c.files;
  const char* p = blocks ? "b" : "f";
  if (args.empty()) {
    kernel_error(lineno, EINVAL, fmt::format("{} requires a percentage", cmd));
    return;
  }
  std::size_t end = 0;
  std::uint64_t v = kernel_strtoul(args, 10, end);
  if (end + 1 != args.size() || args[end] != '%') {
    kernel_error(lineno, EINVAL,
                 fmt::format("'{}' is not N% (digits, then %, then the end "
                             "of the line)",
                             std::string(args)));
    return;
  }
  std::string why;
  std::string_view what = cmd.substr(1);
  if (what == "run") {
    if (v <= l.cull || v >= 100)
      why = fmt::format("{}run {}% must be above {}cull {}% and below 100%", p,
                        v, p, l.cull);
  } else if (what == "cull") {
    if (v <= l.stop || v >= l.run)
      why = fmt::format("{}cull {}% must be above {}stop {}% and below "
                        "{}run {}%",
                        p, v, p, l.stop, p, l.run);
  } else {
    if (v >= l.cull)
      why = fmt::format("{}stop {}% must be below {}cull {}%", p, v, p, l.cull);
  }
  if (!why.empty()) {
    kernel_error(lineno, EINVAL,
                 "Free space limits must be in range "
                 "0%<=stop<cull<run<100%: " +
                     why + " (values are checked in file order)");
    return;
  }
  (what == "run" ? l.run : what == "cull" ? l.cull : l.stop) = unsigned(v);
  m_c.set_on[std::string(cmd)] = lineno;
}

} // namespace

std::string check_limits(const PercentLimits& l, std::string_view p)
{
  if (l.run >= 100)
    return fmt::format("{}run {}% must be below 100%", p, l.run);
  if (l.cull >= l.run)
    return fmt::format("{}cull {}% is not below {}run {}%", p, l.cull, p,
                       l.run);
  if (l.stop >= l.cull)
    return fmt::format("{}stop {}% is not below {}cull {}%", p, l.stop, p,
                       l.cull);
  return {};
}

std::string ConfigDiagnostic::text() const
{
  if (line == 0)
    return fmt::format("{}: {}", file, message);
  return fmt::format("{}:{}: {}", file, line, message);
}

unsigned DaemonConfig::line_of(std::string_view directive) const
{
  auto it = set_on.find(directive);
  return it == set_on.end() ? 0 : it->second;
}

DaemonConfig parse_daemon_config(std::string_view text, const std::string& file,
                                 const ConfigReadOptions& opt)
{
  DaemonConfig c;
  c.file = file;
  Parser p(c, opt);
  const std::size_t page = page_size_or(opt.page_size);
  unsigned lineno = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    ++lineno;
    std::size_t nl = text.find('\n', pos);
    std::size_t n = (nl == std::string_view::npos ? text.size() : nl + 1) - pos;
    std::string_view raw = text.substr(pos, n);
    pos += n;
    // Same order of checks as cachefilesd: length (with the newline), NUL,
    // then the missing newline of a last line.
    if (n >= page) {
      c.errors.push_back({file, lineno, "Line too long", 2});
      continue;
    }
    if (raw.find('\0') != std::string_view::npos) {
      c.errors.push_back({file, lineno, "Line contains a NUL character", 2});
      continue;
    }
    if (nl == std::string_view::npos) {
      c.errors.push_back({file, lineno, "Unterminated line", 2});
      continue;
    }
    raw.remove_suffix(1);
    p.line(raw, lineno);
  }
  return c;
}

DaemonConfig read_daemon_config(const std::string& path,
                                const ConfigReadOptions& opt)
{
  std::ifstream f(path, std::ios::binary);
  if (!f)
    throw_sys("cannot open cachefilesd config", path, errno);
  std::string text((std::istreambuf_iterator<char>(f)),
                   std::istreambuf_iterator<char>());
  if (f.bad())
    throw_sys("cannot read cachefilesd config", path, errno);
  return parse_daemon_config(text, path, opt);
}

// --- limits ------------------------------------------------------------

int fs_stats(int fd, FsStats& out)
{
  struct statfs s;
  if (::fstatfs(fd, &s) < 0)
    return errno;
  out.bsize = std::uint64_t(s.f_bsize);
  out.blocks = s.f_blocks;
  out.bavail = s.f_bavail;
  out.files = s.f_files;
  out.ffree = s.f_ffree;
  return 0;
}

Thresholds compute_thresholds(const PercentLimits& b, const PercentLimits& f,
                              const FsStats& st, KernelGen gen,
                              unsigned page_size)
{
  Thresholds t;
  const std::uint64_t page = page_size_or(page_size);
  unsigned shift = 0;
  if (gen == KernelGen::v1 && st.bsize != 0 && st.bsize < page) {
    // bshift = PAGE_SHIFT - ilog2(f_bsize): blocks counted in pages.
    while ((st.bsize << shift) < page)
      ++shift;
  }
  t.unit = st.bsize << shift;
  const std::uint64_t files = st.files / 100;
  t.frun = files * f.run;
  t.fcull = files * f.cull;
  t.fstop = files * f.stop;
  const std::uint64_t blocks = (st.blocks >> shift) / 100;
  t.brun = blocks * b.run;
  t.bcull = blocks * b.cull;
  t.bstop = blocks * b.stop;
  t.bavail = st.bavail >> shift;
  t.ffree = st.ffree;
  return t;
}

const char* cull_state_name(CullState s)
{
  switch (s) {
  case CullState::off:
    return "off";
  case CullState::hysteresis:
    return "hysteresis";
  case CullState::cull:
    return "cull";
  case CullState::stop:
    return "stop";
  }
  return "?";
}

CullDecision evaluate(const Thresholds& t)
{
  CullDecision d;
  d.blocks_low = t.bavail < t.bcull;
  d.files_low = t.ffree < t.fcull;
  d.blocks_to_run = t.bavail < t.brun ? t.brun - t.bavail : 0;
  d.files_to_run = t.ffree < t.frun ? t.frun - t.ffree : 0;
  if (t.ffree < t.fstop || t.bavail < t.bstop)
    d.state = CullState::stop;
  else if (d.blocks_low || d.files_low)
    d.state = CullState::cull;
  else if (t.ffree >= t.frun && t.bavail >= t.brun)
    d.state = CullState::off;
  else
    d.state = CullState::hysteresis;
  return d;
}

DaemonConfig load_daemon_config(const std::string& path, bool named)
{
  if (!named && access(path.c_str(), F_OK) != 0)
    return DaemonConfig{}; // no cachefilesd installed: the kernel's defaults
  ConfigReadOptions ro;
  ro.check_dir = false;
  return read_daemon_config(path, ro);
}

std::string choose_cache_dir(const std::string& positional,
                             const std::string& dir_option,
                             const DaemonConfig& conf)
{
  if (!positional.empty())
    return positional;
  if (!dir_option.empty())
    return dir_option;
  if (!conf.dir.empty())
    return conf.dir;
  return k_default_cache_dir;
}

} // namespace fsc::cachefiles
