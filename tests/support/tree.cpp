// tree.cpp - temporary cache trees and snapshots for tests.
#include "tree.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <dirent.h>
#include <fcntl.h>
#include <stdexcept>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <xxhash.h>

#include "run.hpp"

namespace fsc::test {

static void fail(const std::string& what, const std::string& path)
{
  throw std::runtime_error(what + " '" + path + "': " + std::strerror(errno));
}

TempDir::TempDir()
{
  const char* t = std::getenv("TMPDIR");
  std::string templ = std::string(t && *t ? t : "/tmp") + "/fsc-test-XXXXXX";
  if (!mkdtemp(templ.data()))
    fail("mkdtemp", templ);
  m_path = templ;
}

TempDir::~TempDir()
{
  // chmod first: caches hold mode-0 directories that rm cannot enter
  // when the tests do not run as root.
  run_prog({"chmod", "-R", "u+rwx", m_path});
  run_prog({"rm", "-rf", m_path});
}

void make_dirs(const std::string& path, unsigned mode)
{
  std::size_t pos = 0;
  while ((pos = path.find('/', pos + 1)) != std::string::npos) {
    std::string part = path.substr(0, pos);
    if (mkdir(part.c_str(), 0700) && errno != EEXIST)
      fail("mkdir", part);
  }
  if (mkdir(path.c_str(), mode) && errno != EEXIST)
    fail("mkdir", path);
}

std::string read_file(const std::string& path)
{
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& data,
                std::uint64_t offset, std::uint64_t size)
{
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0)
    make_dirs(path.substr(0, slash));
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
  if (fd < 0)
    fail("create", path);
  if (!data.empty() && pwrite(fd, data.data(), data.size(), off_t(offset)) !=
                           ssize_t(data.size()))
    fail("write", path);
  if (size && ftruncate(fd, off_t(size)))
    fail("truncate", path);
  close(fd);
}

void set_xattr(const std::string& path, ByteView value, const std::string& name)
{
  if (lsetxattr(path.c_str(), name.c_str(), value.data(), value.size(), 0))
    fail("setxattr", path);
}

void set_times(const std::string& path, std::int64_t atime_ns,
               std::int64_t mtime_ns)
{
  timespec ts[2] = {{atime_ns / 1000000000, atime_ns % 1000000000},
                    {mtime_ns / 1000000000, mtime_ns % 1000000000}};
  if (utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW))
    fail("utimensat", path);
}

static std::map<std::string, std::string> read_xattrs(const std::string& p)
{
  std::map<std::string, std::string> out;
  char names[4096];
  ssize_t n = llistxattr(p.c_str(), names, sizeof names);
  for (ssize_t i = 0; i < n; i += ssize_t(std::strlen(names + i)) + 1) {
    char val[65536];
    ssize_t v = lgetxattr(p.c_str(), names + i, val, sizeof val);
    out[names + i] = v >= 0 ? std::string(val, std::size_t(v)) : "<error>";
  }
  return out;
}

static std::string hash_file(const std::string& p)
{
  int fd = open(p.c_str(), O_RDONLY | O_NOATIME | O_NOFOLLOW);
  if (fd < 0)
    fd = open(p.c_str(), O_RDONLY | O_NOFOLLOW);
  if (fd < 0)
    return "<unreadable>";
  XXH64_state_t* st = XXH64_createState();
  XXH64_reset(st, 0);
  char buf[65536];
  ssize_t got;
  while ((got = read(fd, buf, sizeof buf)) > 0)
    XXH64_update(st, buf, std::size_t(got));
  close(fd);
  auto h = XXH64_digest(st);
  XXH64_freeState(st);
  return std::to_string(h);
}

static void snap(const std::string& root, const std::string& rel,
                 std::map<std::string, PathState>& out)
{
  std::string p = rel.empty() ? root : root + "/" + rel;
  struct stat st;
  if (lstat(p.c_str(), &st))
    fail("lstat", p);
  PathState s;
  s.mode = st.st_mode;
  s.size = std::uint64_t(st.st_size);
  s.atime_ns = st.st_atim.tv_sec * 1000000000LL + st.st_atim.tv_nsec;
  s.mtime_ns = st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
  s.xattrs = read_xattrs(p);
  if (S_ISREG(st.st_mode)) {
    s.content_hash = hash_file(p);
  } else if (S_ISLNK(st.st_mode)) {
    char buf[4096];
    ssize_t n = readlink(p.c_str(), buf, sizeof buf);
    s.content_hash = std::string(buf, n > 0 ? std::size_t(n) : 0);
  } else if (S_ISDIR(st.st_mode)) {
    int fd = open(p.c_str(), O_RDONLY | O_DIRECTORY | O_NOATIME);
    if (fd < 0)
      fd = open(p.c_str(), O_RDONLY | O_DIRECTORY);
    DIR* d = fd >= 0 ? fdopendir(fd) : nullptr;
    if (!d)
      fail("opendir", p);
    std::vector<std::string> names;
    while (auto* e = readdir(d))
      if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, ".."))
        names.push_back(e->d_name);
    closedir(d);
    for (auto& n : names)
      snap(root, rel.empty() ? n : rel + "/" + n, out);
  }
  out[rel] = s;
}

std::map<std::string, PathState> snapshot(const std::string& root)
{
  std::map<std::string, PathState> out;
  snap(root, "", out);
  return out;
}

std::string fixtures_dir()
{
  const char* f = std::getenv("FSC_FIXTURES");
  if (!f)
    throw std::runtime_error(
        "FSC_FIXTURES is not set (run through meson test)");
  return f;
}

std::string extract_fixture(const std::string& tarball, const std::string& dir)
{
  auto r = run_prog(
      {"tar", "--xattrs", "--xattrs-include=*", "-xpJf", tarball, "-C", dir});
  if (r.status != 0)
    throw std::runtime_error("tar failed on " + tarball + ": " + r.err);
  DIR* d = opendir(dir.c_str());
  std::string top;
  while (auto* e = readdir(d))
    if (e->d_name[0] != '.')
      top = e->d_name;
  closedir(d);
  return dir + "/" + top;
}

} // namespace fsc::test
