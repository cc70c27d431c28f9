#pragma once
// Reading a whole (small enough) file into memory, for the text and binary
// table readers (data/csv.hpp, data/npy.hpp), which parse from memory so the
// same parser serves files, strings and fuzz inputs. The size is checked
// against a limit before anything is allocated. Also how the readers show
// the bytes of a file in a message.

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>

#include "scvae/core/error.hpp"
#include "scvae/data/gzip_source.hpp"

namespace scvae {
namespace detail {

/// A cell's text for an error message: quoted, at most 40 characters, with
/// control and non-ASCII bytes written as \xNN (a cell may hold anything).
inline std::string cell_for_message(std::string_view text) {
  static const char* digits = "0123456789ABCDEF";
  constexpr std::size_t kShown = 40;
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < kShown; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 || byte >= 0x7F || byte == '\\' || byte == '"') {
      out += "\\x";
      out += digits[byte >> 4];
      out += digits[byte & 0xF];
    } else {
      out += static_cast<char>(byte);
    }
  }
  out += '"';
  if (text.size() > kShown) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

/// The bytes of the regular file `path`. IoError if it cannot be opened or
/// read (or is a directory, FIFO, device); FormatError if it is larger than
/// `max_bytes`, naming `limit_name` (the option that raises the limit).
inline std::string read_file_bytes(const std::string& path, std::uint64_t max_bytes,
                                   const char* limit_name) {
  const std::uint64_t size = regular_file_size(path);
  if (size > max_bytes) {
    throw FormatError(path + ": file is " + std::to_string(size) + " bytes, over the limit of " +
                      std::to_string(max_bytes) + " bytes (" + limit_name + ")");
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw IoError(path + ": cannot open: " +
                  (errno != 0 ? std::strerror(errno) : "the stream could not be opened"));
  }
  std::string bytes(static_cast<std::size_t>(size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (static_cast<std::uint64_t>(in.gcount()) != size) {
    throw IoError(path + ": read only " + std::to_string(in.gcount()) + " of " +
                  std::to_string(size) + " bytes (did the file change while being read?)");
  }
  return bytes;
}

}  // namespace detail
}  // namespace scvae
