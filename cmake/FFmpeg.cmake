# FFmpeg: one imported target, lssd::ffmpeg, with the five libraries we use. By default through
# pkg-config (the distribution's libraries); with -DLSSD_FFMPEG_PACKAGE=ON from the CMake package
# LssdFFmpeg (a static minimal FFmpeg: tools/gpu/bundle.sh writes one; put it in CMAKE_PREFIX_PATH).
option(LSSD_FFMPEG_PACKAGE "Find FFmpeg as the CMake package LssdFFmpeg instead of through pkg-config" OFF)
add_library(lssd_ffmpeg INTERFACE)
if(LSSD_FFMPEG_PACKAGE)
  find_package(LssdFFmpeg REQUIRED CONFIG)
  target_link_libraries(lssd_ffmpeg INTERFACE LssdFFmpeg::ffmpeg)
else()
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(LSSD_FFMPEG REQUIRED IMPORTED_TARGET
    libavformat libavcodec libswscale libswresample libavutil)
  target_link_libraries(lssd_ffmpeg INTERFACE PkgConfig::LSSD_FFMPEG)
endif()
add_library(lssd::ffmpeg ALIAS lssd_ffmpeg)
