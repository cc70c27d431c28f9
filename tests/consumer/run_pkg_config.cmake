# Compiles tests/consumer/consumer.cpp with a plain compiler command and the
# flags `pkg-config --cflags --libs scvae` gives for an installed prefix, then
# runs it. Run with cmake -P and -DPKG_CONFIG, -DPREFIX, -DPKGCONFIGDIR
# (relative to PREFIX), -DCXX_COMPILER, -DSOURCE, -DBINARY_DIR.
cmake_minimum_required(VERSION 3.21)

if(NOT PKG_CONFIG)
  message(FATAL_ERROR "run_pkg_config.cmake: no pkg-config executable")
endif()

# Our prefix first, then the system's .pc directories (eigen3, zlib, stb).
if(DEFINED ENV{PKG_CONFIG_PATH} AND NOT "$ENV{PKG_CONFIG_PATH}" STREQUAL "")
  set(ENV{PKG_CONFIG_PATH} "${PREFIX}/${PKGCONFIGDIR}:$ENV{PKG_CONFIG_PATH}")
else()
  set(ENV{PKG_CONFIG_PATH} "${PREFIX}/${PKGCONFIGDIR}")
endif()

function(pkg_config out)
  execute_process(COMMAND "${PKG_CONFIG}" ${ARGN} scvae
    RESULT_VARIABLE result OUTPUT_VARIABLE output ERROR_VARIABLE error
    OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "pkg-config ${ARGN} scvae failed (${result}): ${error}")
  endif()
  set(${out} "${output}" PARENT_SCOPE)
endfunction()

pkg_config(version --modversion)
pkg_config(cflags --cflags)
pkg_config(libs --libs)
message(STATUS "scvae.pc: version ${version}\n  cflags: ${cflags}\n  libs: ${libs}")

separate_arguments(cflags UNIX_COMMAND "${cflags}")
separate_arguments(libs UNIX_COMMAND "${libs}")
file(REMOVE_RECURSE "${BINARY_DIR}")
file(MAKE_DIRECTORY "${BINARY_DIR}")
set(program "${BINARY_DIR}/consumer")
execute_process(
  COMMAND "${CXX_COMPILER}" -std=c++17 -O2 ${cflags} "${SOURCE}" -o "${program}" ${libs}
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "compiling with the pkg-config flags failed (${result})")
endif()
execute_process(COMMAND "${program}" RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "the consumer program failed (${result})")
endif()
