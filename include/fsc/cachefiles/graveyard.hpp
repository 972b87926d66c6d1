// graveyard.hpp - burying objects the way the kernel does, and reaping.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace fsc::cachefiles {

/// Kernel graveyard name: "%08x%08x" of 32-bit seconds and a counter.
std::string graveyard_name(std::uint32_t seconds, std::uint32_t counter);

/// Renames name (inside dirfd) into graveyard_fd under a fresh kernel-style
/// name; never follows symlinks. Returns 0 or an errno. new_name receives the
/// name used. counter is advanced past any collision (like the kernel's).
int bury_at(int dirfd, const char* name, int graveyard_fd,
            std::uint32_t& counter, std::string* new_name = nullptr);

/// What burying one object did.
struct Burial {
  int err = 0;             ///< 0, or the errno of the step that failed
  std::string grave_name;  ///< its name in graveyard/, when buried
  std::uint64_t bytes = 0; ///< allocated bytes (st_blocks * 512)
};

/// Buries the object at rel (a path below the cache root root_fd): opens
/// each directory of rel without following a symlink or touching atimes,
/// then bury_at(). The bytes are freed when the graveyard is reaped. A rel
/// with a ".." component is refused (EINVAL): it could leave the cache.
Burial bury_path(int root_fd, const std::string& rel, int graveyard_fd,
                 std::uint32_t& counter);

/// Allocated bytes of the object at rel (what burying it would free); 0
/// when it cannot be seen or rel has a ".." component.
std::uint64_t allocated_bytes(int root_fd, const std::string& rel);

/// Statistics of reaping the graveyard.
struct ReapStats {
  std::uint64_t files = 0;
  std::uint64_t dirs = 0;
  std::uint64_t bytes = 0; ///< allocated bytes freed (st_blocks * 512)
  std::uint64_t errors = 0;
};

/// Deletes everything inside the directory graveyard_fd, depth first, with
/// unlinkat/openat relative to directory fds (no symlink is followed, no
/// other file system entered: entries on another device are skipped).
/// stop() is polled between entries; when it returns true reaping stops.
ReapStats reap_graveyard(int graveyard_fd,
                         const std::function<bool()>& stop = {});

/// Removes name in dirfd and everything below it (same rules as reaping).
int remove_tree_at(int dirfd, const char* name, ReapStats& stats,
                   const std::function<bool()>& stop = {});

} // namespace fsc::cachefiles

namespace fsc::cachefiles {

/// What the graveyard holds, counted without changing anything.
struct GraveyardUsage {
  std::uint64_t top_entries = 0; ///< entries directly in graveyard/
  std::uint64_t files = 0;
  std::uint64_t dirs = 0;
  std::uint64_t bytes = 0; ///< allocated (st_blocks * 512)
  bool readable = true;
};

/// Counts graveyard/ of the cache root root_fd (read-only, O_NOATIME).
GraveyardUsage graveyard_usage(int root_fd);

} // namespace fsc::cachefiles
