// main.cpp - the fsc command line: global options, subcommands, exit codes.
#include "command.hpp"
#include "fsc_config.hpp"

#include <fsc/error.hpp>
#include <fsc/log.hpp>

#include <cstdio>
#include <optional>
#include <vector>

namespace fsc::cmd {
Command add_help(CLI::App& app);
void print_cli_spec(CLI::App& app, const std::string& format);
} // namespace fsc::cmd

namespace {

void add_globals(CLI::App& app, fsc::cmd::Globals& g)
{
  app.add_option("--dir", g.dir,
                 "Cache directory (default: dir from "
                 "/etc/cachefilesd.conf, else /var/cache/fscache)")
      ->envname("FSC_DIR");
  app.add_option("--json", g.json_arg,
                 "JSON output: one document, or --json=lines for one object "
                 "per line")
      ->expected(0, 1)
      ->default_str("")
      ->check(CLI::IsMember({"", "lines", "document"}));
  app.add_flag("-v,--verbose", g.verbose, "More output (repeat for debug)");
  app.add_flag("-q,--quiet", g.quiet, "Only errors on stderr");
}

void finish_globals(CLI::App& app, fsc::cmd::Globals& g)
{
  if (app.get_option("--json")->count() > 0)
    g.json = g.json_arg == "lines" ? fsc::cmd::JsonMode::lines
                                   : fsc::cmd::JsonMode::document;
  fsc::log::set_verbosity(g.quiet ? -1 : g.verbose);
}

// The first word that is not a global option, when no verb has that name.
std::optional<std::string> unknown_verb(CLI::App& app, int argc, char** argv)
{
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--dir") {
      ++i;
      continue;
    }
    if (a.empty() || a[0] == '-')
      continue;
    try {
      app.get_subcommand(a);
      return std::nullopt;
    } catch (const CLI::OptionNotFound&) {
      return a;
    }
  }
  return std::nullopt;
}

// Runs a verb and maps its exceptions to exit codes.
int run_mapped(fsc::cmd::Command& c)
{
  try {
    return c.run();
  } catch (const fsc::Refused& e) {
    // Busy is a normal outcome under cron: not an error to mail about.
    if (e.code() == fsc::exit_code::busy)
      fsc::log::info("{}", e.what());
    else
      fsc::log::error("{}", e.what());
    return e.code();
  } catch (const fsc::UsageError& e) {
    fsc::log::error("{}", e.what());
    return fsc::exit_code::usage;
  } catch (const fsc::Error& e) {
    fsc::log::error("{}", e.what());
    return fsc::exit_code::fatal;
  } catch (const std::exception& e) {
    fsc::log::error("internal error: {}", e.what());
    return fsc::exit_code::fatal;
  }
}

// A verb that measures and failed before writing its metrics gets them
// written here, with fsc_last_run_success 0: a dead cron job shows on the
// dashboard.
int run_command(fsc::cmd::Command& c, const fsc::cmd::Globals& g)
{
  auto& m = c.metrics;
  if (m && m->to_stdout() && g.json != fsc::JsonMode::off) {
    fsc::log::error("--format prometheus and --json both write stdout: "
                    "choose one");
    return fsc::exit_code::usage;
  }
  if (m)
    m->started_s = fsc::unix_now_s();
  const int rc = run_mapped(c);
  if (m && m->on() && !m->written) {
    try {
      fsc::Metrics mx = fsc::cmd::begin_metrics(*m);
      fsc::cmd::emit_metrics(*m, mx, rc);
    } catch (const std::exception& e) {
      fsc::log::error("{}", e.what());
    }
  }
  return rc;
}

} // namespace

int main(int argc, char** argv)
{
  CLI::App app{"fsc - administer and investigate FS-Cache/CacheFiles caches",
               "fsc"};
  app.set_version_flag("-V,--version", "fsc " FSC_VERSION);
  app.require_subcommand(1);
  app.fallthrough();
  fsc::cmd::Globals g;
  add_globals(app, g);

  std::vector<fsc::cmd::Command> cmds;
  cmds.push_back(fsc::cmd::add_inspect(app, g));
  cmds.push_back(fsc::cmd::add_cull(app, g));
  cmds.push_back(fsc::cmd::add_demo(app, g));
  cmds.push_back(fsc::cmd::add_refs(app, g));
  cmds.push_back(fsc::cmd::add_verify(app, g));
  cmds.push_back(fsc::cmd::add_replay(app, g));
  cmds.push_back(fsc::cmd::add_stats(app, g));
  cmds.push_back(fsc::cmd::add_help(app));

  // Hidden: the CLI tree as JSON or completion scripts (completions/).
  std::string spec_format = "json";
  auto* spec = app.add_subcommand("__cli-spec", "")->group("");
  spec->add_option("format", spec_format)
      ->check(CLI::IsMember({"json", "bash", "zsh", "fish"}));
  // A bare --json means one document: it must never take the next word
  // (the verb, or a cache directory) as its value.
  std::vector<std::string> args;
  for (int i = argc - 1; i > 0; --i)
    args.push_back(std::string(argv[i]) == "--json" ? "--json=document"
                                                    : argv[i]);
  try {
    app.parse(std::move(args));
  } catch (const CLI::ParseError& e) {
    if (auto verb = unknown_verb(app, argc, argv)) {
      fsc::log::error("unknown verb '{}' (fsc --help lists them)", *verb);
      return fsc::exit_code::usage;
    }
    int rc = app.exit(e);
    return rc == 0 ? 0 : fsc::exit_code::usage;
  }
  if (spec->parsed()) {
    fsc::cmd::print_cli_spec(app, spec_format);
    return 0;
  }
  finish_globals(app, g);
  for (auto& c : cmds)
    if (c.app->parsed())
      return run_command(c, g);
  return fsc::exit_code::usage;
}
