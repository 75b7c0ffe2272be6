# Build type, warnings, sanitizers and ccache.
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

option(LSSD_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(LSSD_BUILD_TESTS "Build the test suite" ON)
option(LSSD_BUILD_UNIT_TESTS "Build the GoogleTest unit tests (with LSSD_BUILD_TESTS; the GPU check leaves them out)" ON)
option(LSSD_BUILD_READ "Build lssd-read (the GPU check leaves it out)" ON)
option(LSSD_WERROR_DEPRECATED "Make a use of a deprecated API (LibTorch, FFmpeg, ...) an error (CI builds)" OFF)

find_program(LSSD_CCACHE ccache)
if(LSSD_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${LSSD_CCACHE})
endif()

add_library(lssd_warnings INTERFACE)
target_compile_options(lssd_warnings INTERFACE -Wall -Wextra -Wno-unused-parameter)
if(LSSD_WERROR_DEPRECATED)
  target_compile_options(lssd_warnings INTERFACE -Werror=deprecated-declarations)
endif()

if(LSSD_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
