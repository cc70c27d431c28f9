# Configures, builds and runs one consumer project, as a user would.
# Run with cmake -P and these variables:
#   INSTALL_FROM    optional: first install this scvae build tree ...
#   INSTALL_PREFIX  ... into this prefix (emptied first); without SOURCE_DIR,
#                   only install
#   SOURCE_DIR      the consumer project
#   BINARY_DIR      its build directory (emptied first)
#   CXX_COMPILER    the compiler of the parent build
#   GENERATOR       the CMake generator (e.g. Ninja)
#   BUILD_TYPE      e.g. Release
#   CACHE_ARGS      optional, ;-separated -D arguments for the configure step
cmake_minimum_required(VERSION 3.21)

function(run step)
  string(REPLACE ";" " " shown "${ARGN}")
  message(STATUS "[${step}] ${shown}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "[${step}] failed (${result}): ${shown}")
  endif()
endfunction()

if(DEFINED INSTALL_FROM)
  unset(ENV{DESTDIR})
  file(REMOVE_RECURSE "${INSTALL_PREFIX}")
  run(install "${CMAKE_COMMAND}" --install "${INSTALL_FROM}" --prefix "${INSTALL_PREFIX}"
      --component scvae_Development)
  if(NOT DEFINED SOURCE_DIR)
    return()
  endif()
endif()

foreach(var SOURCE_DIR BINARY_DIR CXX_COMPILER GENERATOR BUILD_TYPE)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_consumer.cmake: expected -D${var}=...")
  endif()
endforeach()

file(REMOVE_RECURSE "${BINARY_DIR}")
run(configure "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${BINARY_DIR}" -G "${GENERATOR}"
    "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_BUILD_TYPE=${BUILD_TYPE}" ${CACHE_ARGS})
run(build "${CMAKE_COMMAND}" --build "${BINARY_DIR}" --config "${BUILD_TYPE}")
run(run "${BINARY_DIR}/consumer")
