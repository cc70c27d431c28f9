#pragma once
// --precision fp32|bf16 (issue 24), the same flag in every example.

#include <CLI/CLI.hpp>

#include <iostream>
#include <string>

#include "scvae/core/precision.hpp"

namespace examples {

/// --precision fp32|bf16, shared by every example.
inline CLI::Option* add_precision_flag(CLI::App& app, std::string& precision) {
  return app
      .add_option("--precision", precision,
                  "Matrix products in fp32, or bf16 (bf16 operands, fp32 sums, weights and "
                  "loss; needs AVX512_BF16, else fp32 with a note). Checkpoints are fp32 "
                  "either way. Same seed, threads and precision: same bits")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
}

/// The precision to train in: the flag's, or fp32 where the CPU lacks bf16
/// (said on stderr unless quiet).
inline scvae::Precision chosen_precision(const std::string& flag, const char* program,
                                         bool quiet) {
  std::string note;
  const scvae::Precision chosen =
      scvae::resolve_precision(scvae::parse_precision(flag, "--precision"), note);
  if (!note.empty() && !quiet) std::cerr << program << ": " << note << "\n";
  return chosen;
}

}  // namespace examples
