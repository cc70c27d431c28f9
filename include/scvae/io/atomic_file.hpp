#pragma once
// Whole-file writes that either replace the destination completely or leave
// it as it was: the bytes go to "<target>.tmp-<pid>" next to it, are
// fsynced, and the temporary file is renamed over the target. Checkpoints
// and pictures both write this way. Also the checks around such a write:
// the destination must be a regular file or a new path (a device node, a
// FIFO or a directory is refused; a symbolic link is followed and its target
// replaced, so the link stays), a file to read must be a regular file
// (checked without blocking on a FIFO), and temporary files left by a
// process that no longer exists are removed. POSIX only.

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "scvae/core/check.hpp"
#include "scvae/core/error.hpp"

namespace scvae::detail {

/// A path in single quotes, with control characters escaped.
inline std::string quoted_path(const std::string& path) { return "'" + printable(path) + "'"; }

inline std::string errno_text(int error) { return std::strerror(error); }

/// "a directory", "a FIFO", ... for a message saying what is in the way.
inline std::string file_type_text(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

/// The temporary name for `path` of process `pid` (this process by default).
inline std::string temp_path_for(const std::string& path, long long pid = ::getpid()) {
  return path + ".tmp-" + std::to_string(pid);
}

/// The file a save to `path` replaces: `path` itself when it is a regular
/// file or does not exist yet, the resolved target when it is a symbolic
/// link to a regular file. Anything else (a directory, a device node, a
/// FIFO, a socket, a dangling link) is an IoError naming `path`: replacing
/// it with a regular file would destroy what it was (the rename would turn
/// a copy of /dev/null into a 13 MB file).
inline std::string resolve_save_target(const std::string& path, const std::string& what) {
  const std::string refused = "cannot write " + what + " " + quoted_path(path) + ": ";
  struct stat status {};
  if (::lstat(path.c_str(), &status) != 0) {
    if (errno == ENOENT) return path;   // a new file; open() reports a missing directory
    if (errno == ENOTDIR) return path;  // likewise for a file in place of a directory
    throw IoError(refused + errno_text(errno));
  }
  if (S_ISREG(status.st_mode)) return path;
  if (!S_ISLNK(status.st_mode))
    throw IoError(refused + "it is " + file_type_text(status.st_mode) +
                  ", not a regular file; refusing to replace it");
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr)
    throw IoError(refused +
                  "it is a symbolic link whose target cannot be resolved: " + errno_text(errno));
  if (::stat(resolved, &status) != 0)
    throw IoError(refused + "cannot stat the target of the symbolic link, " +
                  quoted_path(resolved) + ": " + errno_text(errno));
  if (!S_ISREG(status.st_mode))
    throw IoError(refused + "it is a symbolic link to " + quoted_path(resolved) + ", which is " +
                  file_type_text(status.st_mode) + ", not a regular file; refusing to replace it");
  return resolved;
}

/// Removes "<target>.tmp-<pid>" files whose process no longer exists (a
/// process killed while saving leaves its temporary file behind). Only
/// regular files with exactly that name are touched, and only when
/// kill(pid, 0) says ESRCH: a live process's file (any user's: EPERM) stays.
/// Best effort: a directory that cannot be listed is left as it is.
inline void remove_stale_temp_files(const std::string& target) {
  const std::size_t slash = target.find_last_of('/');
  const std::string directory =
      slash == std::string::npos ? std::string(".") : (slash == 0 ? "/" : target.substr(0, slash));
  const std::string prefix =
      (slash == std::string::npos ? target : target.substr(slash + 1)) + ".tmp-";
  DIR* dir = ::opendir(directory.c_str());
  if (dir == nullptr) return;
  const long long self = ::getpid();
  while (const dirent* entry = ::readdir(dir)) {
    const char* name = entry->d_name;
    if (std::strncmp(name, prefix.c_str(), prefix.size()) != 0) continue;
    const char* digits = name + prefix.size();
    const std::size_t count = std::strlen(digits);
    if (count == 0 || count > 10 || std::strspn(digits, "0123456789") != count) continue;
    const long long pid = std::strtoll(digits, nullptr, 10);
    if (pid <= 0 || pid == self || pid > INT_MAX) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    struct stat status {};
    if (::fstatat(::dirfd(dir), name, &status, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(status.st_mode))
      continue;
    (void)::unlinkat(::dirfd(dir), name, 0);
  }
  ::closedir(dir);
}

/// fsync of the directory holding path, so the rename itself is durable.
/// Best effort: some file systems refuse fsync on directories.
inline void fsync_parent_directory(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  const std::string directory =
      slash == std::string::npos ? std::string(".") : (slash == 0 ? "/" : path.substr(0, slash));
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

/// One atomic replacement of `path` (see the top of this file). Write with
/// write(), then commit(); destroyed without commit() (an exception), it
/// removes its temporary file and the destination is untouched. Every
/// failure is an IoError "cannot write <what> '<path>': ...".
class AtomicFile {
 public:
  AtomicFile(const std::string& path, std::string what) : path_(path), what_(std::move(what)) {
    target_ = resolve_save_target(path_, what_);
    remove_stale_temp_files(target_);
    temp_path_ = temp_path_for(target_);
    fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw IoError(prefix() + "cannot create " + quoted_path(temp_path_) + ": " +
                    errno_text(errno));
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (committed_) return;
    if (fd_ >= 0) ::close(fd_);
    ::unlink(temp_path_.c_str());
  }

  const std::string& temp_path() const { return temp_path_; }

  void write(const void* data, std::size_t size) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    while (size > 0) {
      const ssize_t written = ::write(fd_, bytes, size);
      if (written < 0) {
        if (errno == EINTR) continue;
        throw IoError(prefix() + "writing " + quoted_path(temp_path_) +
                      " failed: " + errno_text(errno));
      }
      bytes += written;
      size -= static_cast<std::size_t>(written);
    }
  }

  /// fsync, close, rename over the target, fsync its directory.
  void commit() {
    if (::fsync(fd_) != 0) throw IoError(prefix() + "fsync failed: " + errno_text(errno));
    const int closed = ::close(fd_);
    fd_ = -1;
    if (closed != 0) throw IoError(prefix() + "close failed: " + errno_text(errno));
    if (::rename(temp_path_.c_str(), target_.c_str()) != 0)
      throw IoError(prefix() + "renaming " + quoted_path(temp_path_) +
                    " over it failed: " + errno_text(errno));
    committed_ = true;
    fsync_parent_directory(target_);
  }

 private:
  std::string prefix() const { return "cannot write " + what_ + " " + quoted_path(path_) + ": "; }

  std::string path_;
  std::string what_;
  std::string target_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

/// Opens `path` for reading after checking, without blocking, that it is a
/// regular file: open() of a FIFO with no writer would wait for ever, so the
/// file is opened with O_NONBLOCK, checked with fstat, and only then
/// switched back to blocking reads. IoError names `path` and what is there.
/// Returns the descriptor; the caller closes it.
inline int open_regular_file(const std::string& path, const std::string& what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    throw IoError("cannot open " + what + " " + quoted_path(path) + ": " + errno_text(errno));
  struct stat status {};
  if (::fstat(fd, &status) != 0) {
    const int error = errno;
    ::close(fd);
    throw IoError("cannot stat " + what + " " + quoted_path(path) + ": " + errno_text(error));
  }
  if (!S_ISREG(status.st_mode)) {
    ::close(fd);
    throw IoError("cannot read " + what + " " + quoted_path(path) + ": it is " +
                  file_type_text(status.st_mode) + ", not a regular file");
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
}

}  // namespace scvae::detail
