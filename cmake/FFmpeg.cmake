# FFmpeg through pkg-config: one imported target, lssd::ffmpeg, with the five libraries we use.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LSSD_FFMPEG REQUIRED IMPORTED_TARGET
  libavformat libavcodec libswscale libswresample libavutil)
add_library(lssd_ffmpeg INTERFACE)
target_link_libraries(lssd_ffmpeg INTERFACE PkgConfig::LSSD_FFMPEG)
add_library(lssd::ffmpeg ALIAS lssd_ffmpeg)
