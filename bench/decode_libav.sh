#!/usr/bin/env bash
# Decoding into the bus, issue 14's benchmark: the same clips, the same run.
#   (a) OpenCV VideoCapture::read into a private Mat (framebus-bench-videocapture)
#   (b) framebus-writer --decoder opencv           (today's writer path, BGR)
#   (c) framebus-writer --decoder libav --format bgr24   (sws_scale into the slot)
#   (d) framebus-writer --decoder libav --format native  (the decoder's planes, one copy)
#   (d) again with slice threads only and frame threads only.
#   (c) and (d) again with --slots 3: the default ring (18 slots) is cycled
#   whole while no reader is attached, so every frame lands in a cold slot
#   and the first lap page-faults the whole ring; 3 slots stay in the cache.
#   And with --reuse-newest: with no reader attached the writer writes every
#   frame over the one before, in one slot.
# Clips (made here with ffmpeg): 1080p H.264 and 720p MJPEG. Each case runs
# --runs times, in rounds that take every case once (so a change of the
# machine's load hits all cases alike); the table shows the median wall time (frames/s), CPU time per
# frame (user+sys) and instructions per frame (perf stat if the machine has
# counters, else callgrind: see instructions_per_frame).
#   bench/decode_libav.sh --bin-dir BUILD [--frames N] [--runs R] [--callgrind-frames N]
#                         [--no-instructions]
set -euo pipefail
bin_dir="" frames=240 runs=3 cg_frames=8 count_instructions=1
while [ $# -gt 0 ]; do
  case "$1" in
    --bin-dir) bin_dir=${2:?}; shift ;;
    --frames) frames=${2:?}; shift ;;
    --runs) runs=${2:?}; shift ;;
    --callgrind-frames) cg_frames=${2:?}; shift ;;
    --no-instructions) count_instructions=0 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "decode_libav.sh: error: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$bin_dir" ] || { echo "decode_libav.sh: error: --bin-dir BUILD is needed" >&2; exit 2; }
writer=$bin_dir/writer/framebus-writer
baseline=$bin_dir/bench/framebus-bench-videocapture
for b in "$writer" "$baseline"; do
  [ -x "$b" ] || { echo "decode_libav.sh: error: $b is not built" >&2; exit 2; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ff=(ffmpeg -nostdin -loglevel error -y)
"${ff[@]}" -f lavfi -i "testsrc2=size=1920x1080:rate=30" -frames:v "$frames" -c:v libx264 \
  -preset medium -pix_fmt yuv420p "$work/h264-1080p.mp4"
"${ff[@]}" -f lavfi -i "testsrc2=size=1280x720:rate=30" -frames:v "$frames" -c:v mjpeg \
  -pix_fmt yuvj420p -q:v 3 "$work/mjpeg-720p.avi"
clips=("$work/h264-1080p.mp4" "$work/mjpeg-720p.avi")

have_perf=0
if perf stat -x, -e instructions true 2>&1 | grep -q '^[0-9]'; then have_perf=1; fi

# case label -> command (the clip is appended)
labels=("a VideoCapture::read" "b writer, opencv" "c writer, libav bgr24" "d writer, libav native"
        "d  slice threads" "d  frame threads" "c  --slots 3" "d  --slots 3"
        "c  --reuse-newest" "d  --reuse-newest")
command_of() {
  local name=fb-bench-$$
  case "$1" in
    0) echo "$baseline" ;;
    1) echo "$writer --quiet --fps 0 --name $name --decoder opencv" ;;
    2) echo "$writer --quiet --fps 0 --name $name --decoder libav --format bgr24" ;;
    3) echo "$writer --quiet --fps 0 --name $name --decoder libav --format native" ;;
    4) echo "$writer --quiet --fps 0 --name $name --decoder libav --format native --thread-type slice" ;;
    5) echo "$writer --quiet --fps 0 --name $name --decoder libav --format native --thread-type frame" ;;
    6) echo "$writer --quiet --fps 0 --name $name --decoder libav --format bgr24 --slots 3" ;;
    7) echo "$writer --quiet --fps 0 --name $name --decoder libav --format native --slots 3" ;;
    8) echo "$writer --quiet --fps 0 --name $name --decoder libav --format bgr24 --reuse-newest" ;;
    9) echo "$writer --quiet --fps 0 --name $name --decoder libav --format native --reuse-newest" ;;
  esac
}

# Runs "$@" and prints "wall_seconds cpu_seconds" (GNU time's %e %U %S).
measure() {
  /usr/bin/time -f '%e %U %S' -o "$work/time" "$@" >/dev/null 2>"$work/err" || {
    echo "decode_libav.sh: error: '$*' failed: $(tail -1 "$work/err")" >&2; exit 1; }
  awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$work/time"
}

# Instructions per frame of "$@" CLIP: perf stat over the whole clip where the
# machine has counters; else callgrind on the first N and 2N frames, the
# difference divided by N (start-up cancels out), one decoder thread
# (callgrind serialises threads anyway).
instructions_per_frame() {
  if [ $have_perf = 1 ]; then
    local n; n=$(perf stat -x, -e instructions -- "$@" 2>&1 >/dev/null | awk -F, '/instructions/ {print $1}')
    echo $(( n / frames ))
    return
  fi
  local clip="${*: -1}" rest=("${@:1:$#-1}") extra=() counts=()
  [[ "${rest[0]}" == "$writer" && "${rest[*]}" != *"--decoder opencv"* ]] && extra=(--decoder-threads 1)
  for n in "$cg_frames" $(( 2 * cg_frames )); do
    local short="$work/short$n-${clip##*/}"
    [ -f "$short" ] || "${ff[@]}" -i "$clip" -frames:v "$n" -c copy "$short"
    # A program valgrind cannot run to its end (e.g. an instruction it does
    # not know, such as libhwy's rdtscp at load time) gives no count.
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "${rest[@]}" "${extra[@]}" \
      "$short" >/dev/null 2>"$work/cg.err" || { echo ""; return; }
    counts+=("$(awk '/^summary:/ {print $2}' "$work/cg.out")")
  done
  echo $(( (counts[1] - counts[0]) / cg_frames ))
}

printf '| clip | case | frames/s | CPU ms/frame | instructions/frame | fps vs (a) |\n'
printf '|---|---|---:|---:|---:|---:|\n'
for clip in "${clips[@]}"; do
  declare -A walls=() cpus=()
  for _ in $(seq "$runs"); do
    for i in "${!labels[@]}"; do
      read -r -a cmd <<<"$(command_of "$i")"
      read -r wall cpu < <(measure "${cmd[@]}" "$clip")
      walls[$i]+="$wall "; cpus[$i]+="$cpu "
    done
  done
  base_fps=""
  for i in "${!labels[@]}"; do
    read -r -a cmd <<<"$(command_of "$i")"
    wall=$(printf '%s\n' ${walls[$i]} | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
    cpu=$(printf '%s\n' ${cpus[$i]} | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
    fps=$(awk -v f="$frames" -v w="$wall" 'BEGIN { printf "%.1f", f / w }')
    cpu_ms=$(awk -v f="$frames" -v c="$cpu" 'BEGIN { printf "%.2f", 1000 * c / f }')
    ipf=""
    [ "$i" -le 3 ] && [ "$count_instructions" = 1 ] && ipf=$(instructions_per_frame "${cmd[@]}" "$clip")
    [ -n "$base_fps" ] || base_fps=$fps
    ratio=$(awk -v a="$fps" -v b="$base_fps" 'BEGIN { printf "%.2f", a / b }')
    printf '| %s | %s | %s | %s | %s | %s× |\n' "${clip##*/}" "${labels[$i]}" "$fps" "$cpu_ms" \
      "$( [ -n "$ipf" ] && awk -v n="$ipf" 'BEGIN { printf "%.1f M", n / 1e6 }' || echo "—")" "$ratio"
  done
  unset walls cpus
done
if [ $have_perf = 0 ]; then
  echo
  echo "Instructions: no hardware counters here (perf stat: not supported); callgrind, frames" \
       "$((cg_frames + 1))-$((2 * cg_frames)) of each clip with one decoder thread, where valgrind" \
       "runs the program to its end (— where it does not)."
fi
