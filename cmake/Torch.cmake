# LibTorch: TORCH_LIBRARIES for the lssd library. By default through LibTorch's CMake package
# (find_package(Torch)). The package of a CUDA LibTorch enables CMake's CUDA language and so needs
# the CUDA toolkit's nvcc, which a GPU machine with only a pip PyTorch lacks, though lssd compiles
# no CUDA code. -DLSSD_TORCH_DIRECT=ON links LibTorch's libraries without the package:
# LSSD_TORCH_INCLUDE_DIRS (the folders that hold torch/script.h and torch/torch.h; a pip PyTorch:
# torch.utils.cpp_extension.include_paths()) and LSSD_TORCH_LIBRARY_DIR (the folder of
# libtorch.so, libtorch_cpu.so, libc10.so and, for CUDA, libtorch_cuda.so and libc10_cuda.so).
# The C++ ABI flag (-D_GLIBCXX_USE_CXX11_ABI=0|1) is the caller's, in CMAKE_CXX_FLAGS.
option(LSSD_TORCH_DIRECT "Link LibTorch's libraries directly, without its CMake package (no nvcc needed)" OFF)
if(NOT LSSD_TORCH_DIRECT)
  find_package(Torch REQUIRED)
  return()
endif()
set(LSSD_TORCH_INCLUDE_DIRS "" CACHE STRING "LibTorch's include folders (LSSD_TORCH_DIRECT)")
set(LSSD_TORCH_LIBRARY_DIR "" CACHE PATH "the folder of libtorch.so (LSSD_TORCH_DIRECT)")
find_path(LSSD_TORCH_SCRIPT_H torch/script.h PATHS ${LSSD_TORCH_INCLUDE_DIRS} NO_DEFAULT_PATH REQUIRED)
find_path(LSSD_TORCH_API_H torch/torch.h PATHS ${LSSD_TORCH_INCLUDE_DIRS} NO_DEFAULT_PATH REQUIRED)
foreach(lib torch torch_cpu c10)
  find_library(LSSD_TORCH_LIB_${lib} ${lib} PATHS ${LSSD_TORCH_LIBRARY_DIR} NO_DEFAULT_PATH REQUIRED)
endforeach()
foreach(lib torch_cuda c10_cuda)
  find_library(LSSD_TORCH_LIB_${lib} ${lib} PATHS ${LSSD_TORCH_LIBRARY_DIR} NO_DEFAULT_PATH)
endforeach()
add_library(lssd_libtorch INTERFACE)
target_include_directories(lssd_libtorch SYSTEM INTERFACE ${LSSD_TORCH_SCRIPT_H} ${LSSD_TORCH_API_H})
# libtorch_cpu (and libtorch_cuda) register their operators from static initialisers: linked
# whether or not a symbol of theirs is used, as LibTorch's own package does.
set(_whole ${LSSD_TORCH_LIB_torch_cpu})
if(LSSD_TORCH_LIB_torch_cuda)
  list(APPEND _whole ${LSSD_TORCH_LIB_torch_cuda})
  message(STATUS "LibTorch (direct): CUDA libraries ${LSSD_TORCH_LIB_torch_cuda} ${LSSD_TORCH_LIB_c10_cuda}")
else()
  message(STATUS "LibTorch (direct): no libtorch_cuda in ${LSSD_TORCH_LIBRARY_DIR}: CPU only")
endif()
target_link_libraries(lssd_libtorch INTERFACE ${LSSD_TORCH_LIB_torch} "-Wl,--no-as-needed" ${_whole} "-Wl,--as-needed"
  ${LSSD_TORCH_LIB_c10} $<$<BOOL:${LSSD_TORCH_LIB_c10_cuda}>:${LSSD_TORCH_LIB_c10_cuda}> Threads::Threads)
set_target_properties(lssd_libtorch PROPERTIES INTERFACE_LINK_OPTIONS "-Wl,-rpath,${LSSD_TORCH_LIBRARY_DIR}")
set(TORCH_LIBRARIES lssd_libtorch)
message(STATUS "LibTorch (direct): ${LSSD_TORCH_LIB_torch}, headers ${LSSD_TORCH_SCRIPT_H}")
