// scenario_syntax.hpp - the parts of the replay language that the parser
// checks and the runner reads again: numbers, errno and state names, cookie
// flags, and a call split into its words (not installed).
#pragma once

#include <fsc/fscache/scenario.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace fsc::fscache {

/// Throws fsc::Error "file:line:col: what".
[[noreturn]] void fail_at(const std::string& file, int line, int col,
                          const std::string& what);

/// "0", "EIO", "-ENOBUFS", ... as a number; nullopt for an unknown name.
std::optional<int> parse_errno(std::string s);

/// The name a return value prints as: "0", "-ENOBUFS", or the number.
std::string errno_name(int e);

/// A decimal or 0x-prefixed hex number.
std::optional<std::uint64_t> parse_num(const std::string& s);

/// An object state by its short name ("INIT", "LOOK", ...).
std::optional<ObjState> parse_state(const std::string& s);

/// The cookie flags `expect H flags` names, by name.
const std::map<std::string, unsigned>& cookie_flag_names();

/// A statement split into its command, positional words, options, flags.
struct Parsed {
  std::string cmd;
  std::vector<Word> pos;
  std::map<std::string, Word> opt;
  std::set<std::string> flags;
  std::string as; ///< result name
};

/// The call in w from word `from` on, checked against the grammar; throws
/// fsc::Error at the first word that does not fit.
Parsed split_call(const std::vector<Word>& w, std::size_t from,
                  const std::string& file, int line);

/// What a call takes: positional words, key=value options, bare flags,
/// `as NAME`. The 6.1 dialect has its own table (v2/scenario_parse.cpp).
struct Grammar {
  int min_pos, max_pos;
  std::set<std::string> opts, flags;
  bool takes_as;
};

/// The call in w from word `from` on, split by the table `g`: an unknown
/// call, option or argument count throws "file:line:col: ..." (`calls`
/// lists the known calls in that message). Values are not checked.
Parsed split_with(const std::vector<Word>& w, std::size_t from,
                  const std::map<std::string, Grammar>& g,
                  const std::string& calls, const std::string& file, int line);

/// Checks `expect H file exists|absent|size N|aux V|xattr V` (w[2] is
/// "file"; both dialects have it), throwing "file:line:col: ..." at the
/// first bad word.
void check_file_expect(const std::vector<Word>& w, const std::string& file,
                       int line);

/// The lines of text as statements (words split, a final '&' taken off),
/// blank and comment lines left out; only quoting is checked here.
std::vector<Statement> lex(const std::string& text, const std::string& file);

} // namespace fsc::fscache
