#!/usr/bin/env bash
# Installs the Debian packages framebus needs; quick and silent when all are there.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config
  libboost-dev libopencv-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libzmq3-dev              # the ZeroMQ baseline in bench/
  clang libclang-rt-14-dev # libFuzzer for the fuzz target
  xvfb x11-apps imagemagick libxtst6 # the reader's real-window test (Xvfb, xwd, convert, key presses)
  libx11-dev               # the reader asks Xlib whether $DISPLAY opens
  util-linux               # unshare, for the small-/dev/shm test
  gstreamer1.0-plugins-base # videotestsrc, for the writer's pipeline test
  ccache                   # rebuilds of unchanged files are free
  nlohmann-json3-dev       # JSON everywhere (CLI, report, tests)
  pybind11-dev python3-pybind11 python3-numpy python3-pytest python3-zmq python3-opencv # python/
  python3-dev              # the headers python/ builds against (pybind11-dev does not pull them in)
  python3-flask python3-grpcio python3-grpc-tools # bench/: the Flask MJPEG and gRPC baselines
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev # gst/, rtsp/
  gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-plugins-bad gstreamer1.0-tools gstreamer1.0-libav
  python3-gi gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 # bench/network_bench.py (appsrc, appsink)
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev libavdevice-dev ffmpeg # the libav source
  time valgrind            # bench/decode_libav.sh: CPU time, instructions (callgrind) without counters
  libturbojpeg0-dev        # JPEG for serve/
  chromium curl libcurl4-openssl-dev # serve/'s browser and HTTP tests
  iceoryx libiceoryx-posh-dev libiceoryx-hoofs-dev # bench/: the iceoryx baseline
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
