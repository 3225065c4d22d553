#!/usr/bin/env bash
# Makes the libav tests' clips once per build (a ctest fixture): short
# H.264, MPEG-4 and MJPEG files, the H.264 clip's frames as raw I420 from
# ffmpeg itself, a stream whose resolution changes, a truncated file, and
# ffprobe's frame count of each.   make_clips.sh OUTPUT_DIR
set -euo pipefail
out=${1:?usage: make_clips.sh OUTPUT_DIR}
mkdir -p "$out"
cd "$out"
# Made already, by this very script: nothing to do.
[ -f done ] && [ done -nt "$0" ] && exit 0
rm -f done
ff=(ffmpeg -nostdin -loglevel error -y)
src=(-f lavfi -i testsrc2=size=320x240:rate=25)
"${ff[@]}" "${src[@]}" -frames:v 30 -c:v libx264 -preset veryfast -pix_fmt yuv420p -g 12 -bf 2 h264.mp4
"${ff[@]}" "${src[@]}" -frames:v 30 -c:v mpeg4 -q:v 4 mpeg4.avi
"${ff[@]}" "${src[@]}" -frames:v 30 -c:v mjpeg -pix_fmt yuvj420p -q:v 4 mjpeg.avi
# ffmpeg's own decode of the H.264 clip, planes as they are.
"${ff[@]}" -i h264.mp4 -f rawvideo -pix_fmt yuv420p h264.yuv
# 12 frames at 320x240, then 12 at 160x120, in one MPEG-TS stream.
"${ff[@]}" "${src[@]}" -frames:v 12 -c:v libx264 -preset veryfast -pix_fmt yuv420p -g 6 -bf 0 big.ts
"${ff[@]}" -f lavfi -i testsrc2=size=160x120:rate=25 -frames:v 12 -c:v libx264 -preset veryfast \
  -pix_fmt yuv420p -g 6 -bf 0 small.ts
cat big.ts small.ts > size_change.ts
# The MJPEG file cut at 60 %: the container still announces 30 frames.
head -c $(( $(stat -c %s mjpeg.avi) * 6 / 10 )) mjpeg.avi > truncated.avi
for clip in h264.mp4 mpeg4.avi mjpeg.avi; do
  ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames \
    -of default=noprint_wrappers=1:nokey=1 "$clip" > "$clip.frames"
done
touch done
