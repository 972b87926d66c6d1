// error.cpp - errno formatting.
#include <fsc/error.hpp>

#include <cstring>

namespace fsc {

std::string errno_text(int err)
{
  return std::error_code(err, std::system_category()).message();
}

std::string sys_message(const std::string& what, const std::string& path,
                        int err)
{
  return what + " '" + path + "': " + errno_text(err);
}

void throw_sys(const std::string& what, const std::string& path, int err)
{
  throw Error(sys_message(what, path, err));
}

} // namespace fsc
