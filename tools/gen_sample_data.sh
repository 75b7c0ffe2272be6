#!/usr/bin/env bash
# Regenerates sample_data/ deterministically with ffmpeg (lavfi sources) and espeak-ng.
# Usage: tools/gen_sample_data.sh [OUT_DIR]   (default: <repo>/sample_data)
#
# Every file is short and small (the whole folder stays well under 3 MB). Encoders run
# single-threaded and the muxers with +bitexact so that a rerun with the same FFmpeg and
# espeak-ng versions gives the same bytes. The clip-rule edge cases (T = 3 s) are in the
# durations: 2.0 s (one clip [0,end]), 4.64 s at 29.97 fps (2 clips, the second
# [1.638,4.638]), 7.5 s (exactly T/2 left after 2 clips: no tail clip) and 7.6 s (tail clip).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/sample_data}
command -v ffmpeg >/dev/null || { echo "ffmpeg not found" >&2; exit 1; }
command -v espeak-ng >/dev/null || { echo "espeak-ng not found" >&2; exit 1; }
python=${LSSD_PYTHON:-/usr/bin/python3}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rm -rf "$out"
mkdir -p "$out"/video/{ucf,avi,vfr,multi,misc,encoders} "$out"/audio/{speech,music,edge}

ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
# libx264, one thread (x264's decisions depend on the thread count), small and deterministic.
X264=(-c:v libx264 -threads 1 -preset veryfast -crf 34 -pix_fmt yuv420p -x264-params log=-1)
BITEXACT=(-fflags +bitexact -map_metadata -1)

# Speech sources (22.05 kHz mono), then padded/trimmed per file below.
espeak-ng -v en-us -s 150 -w "$tmp/en.wav" \
  "Looking similar, sounding different. This is the English sample track for the test data."
espeak-ng -v de -s 150 -w "$tmp/de.wav" \
  "Sieht gleich aus, klingt anders. Dies ist die deutsche Tonspur der Testdaten."

# ---- video --------------------------------------------------------------------------------
# 2.0 s, 25 fps, 320x240: 50 frames, end = 1.96 s < T, one clip [0, 1.96].
ff -f lavfi -i "testsrc2=size=320x240:rate=25" -frames:v 50 "${X264[@]}" "${BITEXACT[@]}" \
  "$out/video/ucf/testsrc2_320x240_25fps_2.0s.mp4"
# 4.64 s at 29.97 fps, portrait 240x320: 140 frames, end = 139*1001/30000 = 4.638 s.
ff -f lavfi -i "mandelbrot=size=240x320:rate=30000/1001:maxiter=256" -frames:v 140 \
  "${X264[@]}" "${BITEXACT[@]}" "$out/video/ucf/mandelbrot_240x320_29.97fps_4.64s.mp4"
# 7.6 s, 25 fps, 640x360: 191 frames, end = 7.6 s: 2 clips and a tail clip [4.6, 7.6].
ff -f lavfi -i "testsrc2=size=640x360:rate=25" -frames:v 191 "${X264[@]}" "${BITEXACT[@]}" \
  "$out/video/ucf/testsrc2_640x360_25fps_7.6s.mp4"
# 7.5 s, 30 fps, MPEG-4 part 2 in AVI: 226 frames, end = 7.5 s: exactly T/2 left, no tail.
# (ffmpeg's mpeg4 encoder puts "Lavc" in the extradata: the release reads its packet pts.)
ff -f lavfi -i "testsrc=size=320x240:rate=30" -frames:v 226 -c:v mpeg4 -threads 1 -q:v 12 \
  "${BITEXACT[@]}" "$out/video/avi/testsrc_320x240_30fps_7.5s.avi"
# Variable frame rate: 25 fps for 1.2 s, then every third frame (8.33 fps), 5.0 s in all.
ff -f lavfi -i "testsrc2=size=320x240:rate=25" -t 5 \
  -vf "select='lt(n\,30)+not(mod(n\,3))'" -fps_mode vfr "${X264[@]}" "${BITEXACT[@]}" \
  "$out/video/vfr/testsrc2_320x240_vfr_5.0s.mp4"
# MKV with two language-tagged speech tracks (English AAC 48 kHz stereo, German Opus 48 kHz
# mono): for the audio-from-video option. Not picked by the release's extension list.
ff -f lavfi -i "testsrc2=size=320x240:rate=25" -i "$tmp/en.wav" -i "$tmp/de.wav" \
  -filter_complex "[1:a]aresample=48000,apad,atrim=end_sample=240000,pan=stereo|c0=c0|c1=0.8*c0[a0];[2:a]aresample=48000,apad,atrim=end_sample=240000[a1]" \
  -map 0:v -map "[a0]" -map "[a1]" -frames:v 125 "${X264[@]}" \
  -c:a:0 aac -b:a:0 48k -c:a:1 libopus -b:a:1 24k \
  -metadata:s:a:0 language=eng -metadata:s:a:1 language=deu "${BITEXACT[@]}" \
  "$out/video/multi/testsrc2_320x240_25fps_5.0s_eng_deu.mkv"
# WebM/VP9 with an Opus track.
ff -f lavfi -i "testsrc2=size=320x240:rate=25" -f lavfi -i "sine=frequency=330:sample_rate=48000" \
  -frames:v 80 -t 3.2 -c:v libvpx-vp9 -threads 1 -row-mt 0 -deadline good -cpu-used 8 -b:v 100k \
  -c:a libopus -b:a 24k "${BITEXACT[@]}" "$out/video/multi/testsrc2_320x240_25fps_3.2s_vp9.webm"
# Upper-case extension (only picked with the case-insensitive option).
ff -f lavfi -i "testsrc2=size=320x240:rate=25" -frames:v 60 "${X264[@]}" "${BITEXACT[@]}" \
  -f mp4 "$out/video/misc/UPPER_CASE_320x240_25fps_2.4s.MP4"
# A single frame: fewer than 2 timestamps, skipped.
ff -f lavfi -i "testsrc2=size=320x240:rate=25" -frames:v 1 "${X264[@]}" "${BITEXACT[@]}" \
  "$out/video/misc/one_frame.mp4"
# ---- video the way other encoders write it (the release's reader takes other paths) -----------
# MPEG-4 ASP with B-frames in AVI and no "Lavc" user data (+bitexact): the release takes the
# timestamps from decoded frames; without AVFMT_FLAG_GENPTS only some packets carry a pts.
ff -f lavfi -i "testsrc=size=320x240:rate=25" -frames:v 125 -c:v mpeg4 -bf 2 -threads 1 -q:v 8 \
  -flags +bitexact "${BITEXACT[@]}" "$out/video/encoders/mpeg4_asp_bframes_320x240_25fps_5.0s.avi"
# DivX 5 style packed B-frames (VOL user data DivX503b1393p, P+B in one chunk, 1-byte N-VOP
# chunks): decoded frames come out with pts 1, 3, 2, 5, 4, ...
ff -f lavfi -i "testsrc=size=320x240:rate=30" -frames:v 138 -c:v mpeg4 -bf 1 -threads 1 -q:v 8 \
  -flags +bitexact -fflags +bitexact -f m4v "$tmp/packed.m4v"
"$python" "$here/tools/make_packed_divx_avi.py" "$tmp/packed.m4v" \
  "$out/video/encoders/divx_packed_320x240_30fps_4.6s.avi" --fps 30 --width 320 --height 240
# H.264 with B-frames in AVI: packets carry dts only (no pts without GENPTS).
ff -f lavfi -i "testsrc2=size=320x240:rate=25" -frames:v 110 "${X264[@]}" "${BITEXACT[@]}" \
  "$out/video/encoders/h264_dts_only_320x240_25fps_4.4s.avi"
# MP4 whose first stream is audio (AAC: no "Lavc" in its extradata) and whose MPEG-4 video does
# have "Lavc": the release looks at the first stream only, so timestamps come from decoded frames.
ff -f lavfi -i "sine=frequency=440:sample_rate=48000" -f lavfi -i "testsrc2=size=320x240:rate=25" \
  -map 0:a -map 1:v -t 4.8 -c:a aac -b:a 32k -c:v mpeg4 -q:v 20 -bf 2 -threads 1 "${BITEXACT[@]}" \
  "$out/video/encoders/audio_first_320x240_25fps_4.8s.mp4"
# H.264 with B-frames and an edit list that trims both ends (a cut from an editor): packets
# before 1.3 s and after 4.56 s are flagged discard, so the decoded frames end earlier than the
# packets and plan other clips (the second decode pass).
ff -f lavfi -i "testsrc2=size=320x240:rate=25" -frames:v 150 "${X264[@]}" -bf 3 "${BITEXACT[@]}" "$tmp/full.mp4"
ff -ss 1.3 -i "$tmp/full.mp4" -c copy "${BITEXACT[@]}" "$tmp/cut.mp4"
"$python" - "$tmp/cut.mp4" "$out/video/encoders/h264_bframes_editlist_320x240_25fps_4.5s.mp4" <<'PY'
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
elst = data.find(b"elst")  # version 0: entries of (segment_duration u32, media_time s32, rate)
assert elst > 0 and data[elst + 4] == 0, "no version-0 edit list"
data[elst + 12:elst + 16] = struct.pack(">I", 4560)  # movie timescale 1000: 4.56 s
open(sys.argv[2], "wb").write(data)
PY

# Not a video at all: cannot be opened.
printf 'this is not an mp4 file\n%.0s' {1..8} > "$out/video/misc/broken.mp4"

# ---- audio --------------------------------------------------------------------------------
# English speech + a tone, 44.1 kHz stereo FLAC, 7.6 s: n = 335160, 2 clips and a tail clip.
ff -i "$tmp/en.wav" -f lavfi -i "sine=frequency=440:sample_rate=44100" \
  -filter_complex "[0:a]aresample=44100,apad,atrim=end_sample=335160[s];[1:a]volume=0.1,atrim=end_sample=335160[t];[s][t]join=inputs=2:channel_layout=stereo[a]" \
  -map "[a]" -c:a flac "${BITEXACT[@]}" "$out/audio/speech/english_44.1kHz_stereo_7.6s.flac"
# German speech, 16 kHz mono WAV, 7.5 s: n = 120000, exactly T/2 left: no tail clip.
ff -i "$tmp/de.wav" -af "aresample=16000,apad,atrim=end_sample=120000" -c:a pcm_s16le \
  "${BITEXACT[@]}" "$out/audio/speech/german_16kHz_mono_7.5s.wav"
# Two tones, 48 kHz stereo MP3, 4.64 s.
ff -f lavfi -i "sine=frequency=220:sample_rate=48000" -f lavfi -i "sine=frequency=550:sample_rate=48000" \
  -filter_complex "[0:a][1:a]join=inputs=2:channel_layout=stereo,atrim=end_sample=222720[a]" \
  -map "[a]" -c:a libmp3lame -b:a 64k "${BITEXACT[@]}" "$out/audio/music/tones_48kHz_stereo_4.64s.mp3"
# 6-channel (5.1) Opus, 48 kHz, 2.0 s: shorter than T, one clip [0, n).
ff -f lavfi -i "sine=frequency=200:sample_rate=48000" -f lavfi -i "sine=frequency=300:sample_rate=48000" \
  -f lavfi -i "sine=frequency=400:sample_rate=48000" -f lavfi -i "sine=frequency=60:sample_rate=48000" \
  -f lavfi -i "sine=frequency=500:sample_rate=48000" -f lavfi -i "sine=frequency=600:sample_rate=48000" \
  -filter_complex "[0:a][1:a][2:a][3:a][4:a][5:a]join=inputs=6:channel_layout=5.1,atrim=end_sample=96000[a]" \
  -map "[a]" -c:a libopus -b:a 96k "${BITEXACT[@]}" "$out/audio/music/sines_48kHz_5.1_2.0s.opus"
# 6-channel 16-bit WAV, 16 kHz, 3.5 s: n = 56000, one clip and a tail clip [8000, 56000).
ff -f lavfi -i "sine=frequency=250:sample_rate=16000" \
  -af "pan=5.1|c0=c0|c1=0.5*c0|c2=0.25*c0|c3=0*c0|c4=-0.5*c0|c5=0.75*c0,atrim=end_sample=56000" \
  -c:a pcm_s16le "${BITEXACT[@]}" "$out/audio/music/sine_16kHz_5.1_3.5s.wav"
# One sample: fewer than 2 samples, skipped.
ff -f lavfi -i "sine=frequency=440:sample_rate=16000" -af "atrim=end_sample=1" -c:a pcm_s16le \
  "${BITEXACT[@]}" "$out/audio/edge/one_sample.wav"
# Upper-case extension (only picked with the case-insensitive option).
ff -i "$tmp/en.wav" -af "aresample=16000,atrim=end_sample=40000" -c:a pcm_s16le \
  "${BITEXACT[@]}" -f wav "$out/audio/edge/UPPER_CASE_16kHz_mono_2.5s.WAV"

# ---- README -------------------------------------------------------------------------------
{
  echo "# Sample data"
  echo
  echo "Generated by \`tools/gen_sample_data.sh\` (ffmpeg lavfi sources and espeak-ng speech);"
  echo "rerun it to regenerate. The release picks \`mp4 avi\` video and \`mp3 wav flac opus\` audio"
  echo "(case-sensitive): the .mkv/.webm files are for the audio-from-video option, the upper-case"
  echo "extensions for the case-insensitive option; one_frame.mp4 and one_sample.wav are skipped"
  echo "(fewer than 2 timestamps/samples) and broken.mp4 cannot be opened. video/encoders/ holds"
  echo "video written the way other encoders write it (MPEG-4 ASP with B-frames, DivX packed"
  echo "B-frames, H.264 in AVI, audio as the first stream, an edit list): the release reads their"
  echo "timestamps from decoded frames."
  echo
  echo "Files: $(cd "$out" && find . -type f ! -name README.md | sed 's|^\./||' | LC_ALL=C sort | tr '\n' ' ')"
  echo
  echo "| file | streams |"
  echo "|---|---|"
  (cd "$out" && find . -type f ! -name README.md | sed 's|^\./||' | LC_ALL=C sort) | while read -r f; do
    desc=$(ffprobe -v error -show_entries stream=codec_name,width,height,avg_frame_rate,sample_rate,channels:stream_tags=language \
      -of compact=p=0:nk=1 "$out/$f" 2>/dev/null | tr '\n' ';' || true)
    echo "| $f | ${desc:-not a media file} |"
  done
} > "$out/README.md"
du -sh "$out"
