#pragma once
/// \file
/// The library version. CMake reads the three numbers below for project(),
/// the package version file and scvae.pc, so this is the one place to change.

/// Incremented for incompatible API changes (while 0, any minor release may break).
#define SCVAE_VERSION_MAJOR 1
/// Incremented for backwards-compatible additions.
#define SCVAE_VERSION_MINOR 0
/// Incremented for backwards-compatible fixes.
#define SCVAE_VERSION_PATCH 0

/// The version as one comparable number: major * 10000 + minor * 100 + patch.
#define SCVAE_VERSION \
  (SCVAE_VERSION_MAJOR * 10000 + SCVAE_VERSION_MINOR * 100 + SCVAE_VERSION_PATCH)

/// \cond
#define SCVAE_STRINGIFY_IMPL_(x) #x
#define SCVAE_STRINGIFY_(x) SCVAE_STRINGIFY_IMPL_(x)
/// \endcond

/// The version as a string literal, e.g. "0.1.0".
#define SCVAE_VERSION_STRING            \
  SCVAE_STRINGIFY_(SCVAE_VERSION_MAJOR) \
  "." SCVAE_STRINGIFY_(SCVAE_VERSION_MINOR) "." SCVAE_STRINGIFY_(SCVAE_VERSION_PATCH)

namespace scvae {

/// The version of the headers a program was compiled against, e.g. "0.1.0".
inline constexpr const char* kVersion = SCVAE_VERSION_STRING;

}  // namespace scvae
