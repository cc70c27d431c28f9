#pragma once
// What the libFuzzer targets share: the fuzz input as a file the readers can
// open by name (an in-memory file from memfd_create, named through
// /proc/self/fd, so no disk is touched), and the rule that scvae::Error is
// the expected way to refuse an input while anything else is a finding.

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "scvae/core/error.hpp"

namespace scvae_fuzz {

/// One in-memory file, reused (truncated and rewritten) for every input.
class InputFile {
 public:
  InputFile() {
    fd_ = ::memfd_create("scvae_fuzz_input", MFD_CLOEXEC);
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  /// Replaces the file's contents with `size` bytes of `data`.
  const std::string& write(const std::uint8_t* data, std::size_t size) {
    if (::ftruncate(fd_, 0) != 0) std::abort();
    std::size_t done = 0;
    while (done < size) {
      const ssize_t wrote = ::pwrite(fd_, data + done, size - done, static_cast<off_t>(done));
      if (wrote <= 0) std::abort();
      done += static_cast<std::size_t>(wrote);
    }
    return path_;
  }
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

/// Runs `call`; scvae::Error is an expected refusal. Any other exception is a
/// finding: report it and abort so libFuzzer keeps the input.
template <typename F>
void expect_only_scvae_errors(const char* what, F&& call) {
  try {
    call();
  } catch (const scvae::Error&) {
    // A clear refusal of a malformed input: fine.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: unexpected exception (not scvae::Error): %s\n", what, e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "%s: unexpected non-std exception\n", what);
    std::abort();
  }
}

/// An invariant of an accepted input that does not hold: a finding.
inline void require(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

}  // namespace scvae_fuzz
