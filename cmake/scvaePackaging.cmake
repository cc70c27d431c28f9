# Install rules, the exported target scvae::scvae and the files that let other
# projects find the library: scvaeConfig.cmake, scvaeConfigVersion.cmake (for
# find_package) and scvae.pc (for pkg-config). Included from the top-level
# CMakeLists.txt after the scvae target is defined.
#
# The library is header-only, so everything goes to arch-independent places:
#   <prefix>/include/scvae/...                    the headers
#   <prefix>/share/cmake/scvae/scvae*.cmake        the CMake package
#   <prefix>/share/pkgconfig/scvae.pc              the pkg-config file
# A build directory is a package too: find_package(scvae) with
# scvae_DIR=<build dir> uses the headers in the source tree.

include(CMakePackageConfigHelpers)

set(SCVAE_INSTALL_CMAKEDIR "${CMAKE_INSTALL_DATADIR}/cmake/scvae"
  CACHE STRING "Where to install scvaeConfig.cmake, relative to the prefix")
set(SCVAE_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_DATADIR}/pkgconfig"
  CACHE STRING "Where to install scvae.pc, relative to the prefix")
mark_as_advanced(SCVAE_INSTALL_CMAKEDIR SCVAE_INSTALL_PKGCONFIGDIR)

# One header-only package serves every architecture; the dependencies are
# found again on the machine that uses it.
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/scvaeConfigVersion.cmake"
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion
  ARCH_INDEPENDENT)

if(SCVAE_INSTALL)
  install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/scvae"
    DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
    COMPONENT scvae_Development
    FILES_MATCHING PATTERN "*.hpp")

  install(TARGETS scvae EXPORT scvaeTargets)
  install(EXPORT scvaeTargets
    NAMESPACE scvae::
    DESTINATION "${SCVAE_INSTALL_CMAKEDIR}"
    COMPONENT scvae_Development)
  # scvae::mpi in a file of its own, loaded only for find_package(scvae
  # COMPONENTS mpi): a user without MPI never needs MPI::MPI_CXX.
  if(TARGET scvae_mpi)
    install(TARGETS scvae_mpi EXPORT scvaeMpiTargets)
    install(EXPORT scvaeMpiTargets
      NAMESPACE scvae::
      DESTINATION "${SCVAE_INSTALL_CMAKEDIR}"
      COMPONENT scvae_Development)
  endif()

  configure_package_config_file(
    "${PROJECT_SOURCE_DIR}/cmake/scvaeConfig.cmake.in"
    "${PROJECT_BINARY_DIR}/cmake/install/scvaeConfig.cmake"
    INSTALL_DESTINATION "${SCVAE_INSTALL_CMAKEDIR}")
  install(FILES
    "${PROJECT_BINARY_DIR}/cmake/install/scvaeConfig.cmake"
    "${PROJECT_BINARY_DIR}/scvaeConfigVersion.cmake"
    DESTINATION "${SCVAE_INSTALL_CMAKEDIR}"
    COMPONENT scvae_Development)

  # scvae.pc finds the prefix from its own location, so an installed tree can
  # be moved. Its include path is the prefix's include dir relative to it.
  file(RELATIVE_PATH SCVAE_PC_PREFIX_FROM_PCFILEDIR
    "/prefix/${SCVAE_INSTALL_PKGCONFIGDIR}" "/prefix")
  string(REGEX REPLACE "/$" "" SCVAE_PC_PREFIX_FROM_PCFILEDIR "${SCVAE_PC_PREFIX_FROM_PCFILEDIR}")
  if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    set(SCVAE_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
  else()
    set(SCVAE_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
  endif()
  configure_file("${PROJECT_SOURCE_DIR}/cmake/scvae.pc.in"
    "${PROJECT_BINARY_DIR}/scvae.pc" @ONLY)
  install(FILES "${PROJECT_BINARY_DIR}/scvae.pc"
    DESTINATION "${SCVAE_INSTALL_PKGCONFIGDIR}"
    COMPONENT scvae_Development)
endif()

# The build-tree package: find_package(scvae CONFIG) with scvae_DIR set to
# this build directory. Only for a top-level build: a parent project that
# adds scvae with add_subdirectory already has the target.
if(PROJECT_IS_TOP_LEVEL)
  export(TARGETS scvae
    NAMESPACE scvae::
    FILE "${PROJECT_BINARY_DIR}/scvaeTargets.cmake")
  if(TARGET scvae_mpi)
    export(TARGETS scvae_mpi
      NAMESPACE scvae::
      FILE "${PROJECT_BINARY_DIR}/scvaeMpiTargets.cmake")
  endif()
  configure_package_config_file(
    "${PROJECT_SOURCE_DIR}/cmake/scvaeConfig.cmake.in"
    "${PROJECT_BINARY_DIR}/scvaeConfig.cmake"
    INSTALL_DESTINATION "${PROJECT_BINARY_DIR}"
    INSTALL_PREFIX "${PROJECT_BINARY_DIR}")
endif()
