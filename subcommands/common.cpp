// common.cpp - helpers every verb shares: where the cache is.
#include "command.hpp"

#include <fstream>
#include <sstream>

namespace fsc::cmd {

// The `dir` directive of cachefilesd.conf, as the daemon reads it: the
// first word is the directive, the rest of the line (trimmed) the value.
static std::string conf_dir(const std::string& path)
{
  std::ifstream f(path);
  std::string line, dir;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string word;
    if (!(in >> word) || word[0] == '#' || word != "dir")
      continue;
    std::getline(in >> std::ws, dir);
    while (!dir.empty() && (dir.back() == ' ' || dir.back() == '\t'))
      dir.pop_back();
  }
  return dir;
}

std::string resolve_cache_dir(const std::string& positional, const Globals& g)
{
  if (!positional.empty())
    return positional;
  if (!g.dir.empty())
    return g.dir;
  std::string d = conf_dir("/etc/cachefilesd.conf");
  return d.empty() ? "/var/cache/fscache" : d;
}

} // namespace fsc::cmd
