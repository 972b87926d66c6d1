// test_docs.cpp - completions and man pages keep up with the CLI tree.
#include <catch2/catch.hpp>

#include "run.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <vector>

using fsc::test::run_fsc;

static std::string source_root()
{
  const char* s = std::getenv("FSC_SOURCE_ROOT");
  REQUIRE(s);
  return s;
}

static std::string read_file(const std::string& path)
{
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST_CASE("committed completions are what the CLI tree generates", "[docs]")
{
  for (auto [format, file] :
       {std::pair{"bash", "fsc.bash"}, std::pair{"zsh", "_fsc"},
        std::pair{"fish", "fsc.fish"}}) {
    auto r = run_fsc({"__cli-spec", format});
    REQUIRE(r.status == 0);
    INFO(
        "completions/" << file
                       << " is stale: run `ninja -C build update-completions`");
    CHECK(read_file(source_root() + "/completions/" + file) == r.out);
  }
}

TEST_CASE("every verb has a man page naming each of its options", "[docs]")
{
  auto r = run_fsc({"__cli-spec", "json"});
  REQUIRE(r.status == 0);
  auto spec = nlohmann::json::parse(r.out);
  for (auto& verb : spec["verbs"]) {
    std::string name = verb["name"];
    std::string page = name.empty() ? "fsc.8.scd" : "fsc-" + name + ".8.scd";
    if (name == "help")
      page = "fsc.8.scd";
    std::string text = read_file(source_root() + "/man/" + page);
    INFO("man/" << page);
    REQUIRE_FALSE(text.empty());
    for (auto& opt : verb["options"]) {
      for (auto& l : opt["long"]) {
        std::string o = "--" + l.get<std::string>();
        INFO("option " << o << " of '" << name << "' is not in man/" << page);
        CHECK(text.find(o) != std::string::npos);
      }
      for (auto& s : opt["short"]) {
        std::string o = "-" + s.get<std::string>();
        INFO("option " << o << " of '" << name << "' is not in man/" << page);
        CHECK(text.find(o) != std::string::npos);
      }
    }
  }
}

TEST_CASE("completions offer every verb and option", "[docs]")
{
  auto spec = nlohmann::json::parse(run_fsc({"__cli-spec", "json"}).out);
  std::string bash = read_file(source_root() + "/completions/fsc.bash");
  std::string fish = read_file(source_root() + "/completions/fsc.fish");
  std::string zsh = read_file(source_root() + "/completions/_fsc");
  for (auto& verb : spec["verbs"]) {
    std::string name = verb["name"];
    if (!name.empty()) {
      CHECK(bash.find(name) != std::string::npos);
      CHECK(fish.find("-a " + name) != std::string::npos);
      CHECK(zsh.find("'" + name + ":") != std::string::npos);
    }
    for (auto& opt : verb["options"])
      for (auto& l : opt["long"]) {
        std::string o = l;
        CHECK(bash.find("--" + o) != std::string::npos);
        CHECK(fish.find("-l " + o) != std::string::npos);
        CHECK(zsh.find("--" + o) != std::string::npos);
      }
  }
}

// The layers, lowest first (HACKING.md): each may include only its own
// headers and those of the layers before it.
TEST_CASE("no include points up a layer", "[docs][layers]")
{
  namespace fs = std::filesystem;
  const std::vector<std::string> order = {"common", "cachefiles", "netfs",
                                          "fscache", "trace"};
  auto rank = [&](const std::string& layer) {
    return std::size_t(std::find(order.begin(), order.end(), layer) -
                       order.begin());
  };
  const std::regex inc(R"(#include <fsc/([a-z_]+)(/|\.hpp))");
  std::size_t files = 0;
  for (const auto& layer : order) {
    for (const std::string& dir :
         {source_root() + "/src/" + layer,
          layer == "common" ? source_root() + "/include/fsc"
                            : source_root() + "/include/fsc/" + layer}) {
      if (!fs::is_directory(dir))
        continue;
      // A layer's subdirectories (fscache/v2) belong to it; include/fsc
      // itself holds common's headers only, beside the layers' folders.
      std::vector<fs::path> paths;
      if (layer == "common")
        for (const auto& e : fs::directory_iterator(dir))
          paths.push_back(e.path());
      else
        for (const auto& e : fs::recursive_directory_iterator(dir))
          paths.push_back(e.path());
      for (const auto& p : paths) {
        fs::directory_entry e(p);
        if (!e.is_regular_file())
          continue;
        ++files;
        std::ifstream in(e.path());
        int n = 0;
        for (std::string line; std::getline(in, line);) {
          ++n;
          std::smatch m;
          if (!std::regex_search(line, m, inc))
            continue;
          std::string used = m[2] == ".hpp" ? "common" : std::string(m[1]);
          INFO(e.path().string() << ":" << n << ": " << line);
          CHECK(rank(used) <= rank(layer));
        }
      }
    }
  }
  CHECK(files > 50);
}
