// run.cpp - spawning fsc and collecting its output.
#include "run.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace fsc::test {

static void drain(int out_fd, int err_fd, int in_fd, const std::string& input,
                  RunResult& r)
{
  std::size_t in_off = 0;
  if (input.empty() && in_fd >= 0) {
    close(in_fd);
    in_fd = -1;
  }
  while (out_fd >= 0 || err_fd >= 0 || in_fd >= 0) {
    pollfd p[3];
    int n = 0;
    if (out_fd >= 0)
      p[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0)
      p[n++] = {err_fd, POLLIN, 0};
    if (in_fd >= 0)
      p[n++] = {in_fd, POLLOUT, 0};
    if (poll(p, nfds_t(n), -1) < 0 && errno != EINTR)
      throw std::runtime_error("poll failed");
    for (int i = 0; i < n; ++i) {
      if (!p[i].revents)
        continue;
      if (p[i].fd == in_fd) {
        ssize_t w = write(in_fd, input.data() + in_off, input.size() - in_off);
        if (w > 0)
          in_off += std::size_t(w);
        if (w <= 0 || in_off == input.size()) {
          close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      char buf[65536];
      ssize_t got = read(p[i].fd, buf, sizeof buf);
      if (got > 0) {
        (p[i].fd == out_fd ? r.out : r.err).append(buf, std::size_t(got));
      } else {
        close(p[i].fd);
        (p[i].fd == out_fd ? out_fd : err_fd) = -1;
      }
    }
  }
}

RunResult run_prog(const std::vector<std::string>& args,
                   const std::map<std::string, std::string>& env,
                   const std::string& input)
{
  int out[2], err[2], in[2];
  if (pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC) || pipe2(in, O_CLOEXEC))
    throw std::runtime_error("pipe failed");
  pid_t pid = fork();
  if (pid < 0)
    throw std::runtime_error("fork failed");
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    for (auto& [k, v] : env)
      setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  close(in[0]);
  RunResult r;
  drain(out[0], err[0], in[1], input, r);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

RunResult run_fsc(const std::vector<std::string>& args,
                  const std::map<std::string, std::string>& env,
                  const std::string& input)
{
  const char* bin = std::getenv("FSC_BIN");
  if (!bin)
    throw std::runtime_error("FSC_BIN is not set (run through meson test)");
  std::vector<std::string> argv{bin};
  argv.insert(argv.end(), args.begin(), args.end());
  std::map<std::string, std::string> e = env;
  e.emplace("NO_COLOR", "1");
  return run_prog(argv, e, input);
}

std::string one_line(std::string s)
{
  for (char& c : s)
    if (c == '\n')
      c = '|';
  return s;
}

} // namespace fsc::test
