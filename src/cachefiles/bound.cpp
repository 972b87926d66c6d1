// bound.cpp - evidence that a cache is live, from /proc.
#include <fsc/cachefiles/bound.hpp>

#include <fsc/fd.hpp>

#include <fmt/format.h>

#include <cctype>
#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <unistd.h>

namespace fsc::cachefiles {
namespace {

std::string link_target(const std::string& path)
{
  char buf[PATH_MAX];
  ssize_t n = readlink(path.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, std::size_t(n)) : std::string();
}

bool inside(const std::string& path, const std::string& root)
{
  return !root.empty() &&
         (path == root || (path.size() > root.size() &&
                           path.compare(0, root.size(), root) == 0 &&
                           path[root.size()] == '/'));
}

// A process may exit while it is read: what could be read is evidence.
std::vector<std::string> list_dir(const std::string& dir)
{
  std::vector<std::string> out;
  Fd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd)
    return out;
  for (const DirEntry& e : DirReader(fd.get()))
    if (e.name[0] != '.')
      out.emplace_back(e.name);
  return out;
}

std::string comm_of(const std::string& pid_dir)
{
  std::ifstream f(pid_dir + "/comm");
  std::string s;
  std::getline(f, s);
  return s.empty() ? "?" : s;
}

struct ProcView {
  bool holds_device = false;
  std::string inside_path; ///< first cwd/fd link inside the cache root
};

ProcView look_at(const std::string& pid_dir, const std::string& root)
{
  ProcView v;
  std::string cwd = link_target(pid_dir + "/cwd");
  if (inside(cwd, root))
    v.inside_path = cwd;
  for (auto& fd : list_dir(pid_dir + "/fd")) {
    std::string t = link_target(pid_dir + "/fd/" + fd);
    if (t == "/dev/cachefiles")
      v.holds_device = true;
    else if (v.inside_path.empty() && inside(t, root))
      v.inside_path = t;
  }
  return v;
}

std::string real_path(const std::string& p)
{
  char* r = realpath(p.c_str(), nullptr);
  if (!r)
    return p;
  std::string s = r;
  std::free(r);
  return s;
}

} // namespace

std::string proc_root()
{
  const char* p = std::getenv("FSC_PROC_ROOT");
  return p && *p ? p : "/proc";
}

BindState detect_binding(const std::string& root, const std::string& proc_dir,
                         const std::string& config_dir)
{
  BindState st;
  const std::string real = real_path(root);
  const bool config_match =
      !config_dir.empty() && real_path(config_dir) == real;
  const pid_t self = getpid();
  for (auto& pid : list_dir(proc_dir)) {
    if (!std::isdigit(static_cast<unsigned char>(pid[0])) ||
        pid == std::to_string(self))
      continue;
    const std::string dir = proc_dir + "/" + pid;
    ProcView v = look_at(dir, real);
    std::string who = fmt::format("{} (pid {})", comm_of(dir), pid);
    if (v.holds_device) {
      st.daemon_running = true;
      if (!v.inside_path.empty() || config_match) {
        st.bound = true;
        st.evidence.push_back(
            !v.inside_path.empty()
                ? fmt::format("{} holds /dev/cachefiles and has '{}' open", who,
                              v.inside_path)
                : fmt::format("{} holds /dev/cachefiles and its "
                              "configuration names this directory",
                              who));
      } else {
        st.evidence.push_back(fmt::format(
            "{} holds /dev/cachefiles (for another cache, it seems)", who));
      }
    } else if (!v.inside_path.empty()) {
      st.users.push_back(fmt::format("{} has '{}' open", who, v.inside_path));
    }
  }
  return st;
}

} // namespace fsc::cachefiles

namespace fsc::cachefiles {

bool live_churn(const Problem& p, const BindState& b)
{
  return b.bound && p.kind == "vanished";
}

} // namespace fsc::cachefiles
