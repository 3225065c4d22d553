#!/usr/bin/python3
"""Frames to another machine, measured on loopback in one run.

Compares, at 640x480 and 1920x1080, 30 frames/s of BGR frames:
  * the framebus RTSP bridge: segment A -> framebus-rtsp (--codec raw | jpeg |
    h264) -> `framebus-writer rtsp://... --name B` -> a reader of segment B;
  * Python gRPC (python3-grpcio): a client-streaming RPC of raw frames, as in
    the common tutorial;
  * ZeroMQ PUB/SUB over tcp:// (python3-zmq), raw frames.

Latency is glass to glass: each frame carries its capture time (CLOCK_MONOTONIC,
microseconds) in 48 black/white 16x16 blocks drawn into its top-left corner,
which survive JPEG and H.264; the receiver decodes them and subtracts from its
own clock. CPU is the user+system time of every process of a case (frame
source, transport, receiver) over the measured window, in % of one core.

    bench/network_bench.py --build BUILD_DIR [--seconds 6] [--sizes 640x480,1920x1080]

Prints a markdown table. Needs the build's framebus-writer, framebus-rtsp and
GStreamer plugin (gst/), python3-gi, python3-zmq, python3-grpcio,
python3-grpc-tools, numpy.
"""

import argparse
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

PYTHON = "/usr/bin/python3"
HERE = os.path.abspath(__file__)
FPS = 30
WARMUP_SECONDS = 3
BLOCK = 16
BITS = 48
COLUMNS = 12  # 12 x 4 blocks


# ---- frames with their capture time drawn in ----

def make_frames(width, height):
    import numpy as np

    y, x = np.mgrid[0:height, 0:width]
    base = np.zeros((height, width, 3), np.uint8)
    base[..., 0] = (x * 255 // max(width - 1, 1)).astype(np.uint8)
    base[..., 1] = ((x + y) * 255 // max(width + height - 2, 1)).astype(np.uint8)
    base[..., 2] = (y * 255 // max(height - 1, 1)).astype(np.uint8)
    return base


def moving_frames(width, height):
    """Eight frames of moving content (for the encoders), made once: the source
    only draws the stamp per frame, so on a busy machine it still keeps 30 fps."""
    import numpy as np

    base = make_frames(width, height)
    return [np.ascontiguousarray(np.roll(base, shift * 8, axis=1)) for shift in range(8)]


def next_frame(frames, step, capture_us):
    frame = frames[step % len(frames)]
    stamp(frame, capture_us)
    return frame


def stamp(frame, capture_us):
    for bit in range(BITS):
        r, c = divmod(bit, COLUMNS)
        value = 255 if (capture_us >> bit) & 1 else 0
        frame[r * BLOCK:(r + 1) * BLOCK, c * BLOCK:(c + 1) * BLOCK] = value


def read_stamp(frame):
    value = 0
    for bit in range(BITS):
        r, c = divmod(bit, COLUMNS)
        centre = frame[r * BLOCK + 4:(r + 1) * BLOCK - 4, c * BLOCK + 4:(c + 1) * BLOCK - 4]
        if centre.mean() > 127:
            value |= 1 << bit
    return value


def now_us():
    return time.monotonic_ns() // 1000


def paced(seconds):
    """Yields frame numbers at FPS for `seconds` (plus the warm-up)."""
    total = int(seconds * FPS)
    start = time.monotonic()
    for step in range(total):
        delay = start + step / FPS - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield step


class Latencies:
    def __init__(self):
        self.values = []
        self.first = None
        self.last = None
        self.frames = 0
        self.started = None

    def add(self, capture_us):
        received = now_us()
        self.frames += 1
        if self.started is None:
            self.started = received
            print("first frame", flush=True)  # the orchestrator starts its clock
        if received - self.started < WARMUP_SECONDS * 1_000_000:
            return  # connections, encoders and HTTP/2 windows settle first
        if self.first is None:
            self.first = received
        self.last = received
        latency = received - capture_us
        if 0 <= latency < 10_000_000:  # a damaged stamp is not a latency
            self.values.append(latency)

    def report(self):
        values = sorted(self.values)
        span = (self.last - self.first) / 1e6 if self.first and self.last != self.first else 0
        result = {"frames": len(values), "fps": (len(values) - 1) / span if span else 0}
        if values:
            result["p50_ms"] = values[len(values) // 2] / 1000
            result["p95_ms"] = values[int(len(values) * 0.95)] / 1000
        print(json.dumps(result), flush=True)


def until_signalled():
    stop = {"now": False}

    def handler(*_):
        stop["now"] = True

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


# ---- roles (each runs in a process of its own) ----

def role_bus_source(args):
    import gi

    gi.require_version("Gst", "1.0")
    from gi.repository import Gst

    Gst.init(None)
    pipeline = Gst.parse_launch(
        f"appsrc name=src is-live=true format=time do-timestamp=true "
        f"caps=video/x-raw,format=BGR,width={args.width},height={args.height},framerate={FPS}/1 "
        f"! framebussink segment={args.name} sync=false")
    src = pipeline.get_by_name("src")
    pipeline.set_state(Gst.State.PLAYING)
    frames = moving_frames(args.width, args.height)
    stop = until_signalled()
    for step in paced(3600):
        if stop["now"]:
            break
        frame = next_frame(frames, step, now_us())
        src.emit("push-buffer", Gst.Buffer.new_wrapped(frame.tobytes()))
    pipeline.set_state(Gst.State.NULL)


def role_bus_receiver(args):
    import gi
    import numpy as np

    gi.require_version("Gst", "1.0")
    gi.require_version("GstApp", "1.0")
    from gi.repository import Gst, GstApp  # noqa: F401 (GstApp gives appsink its methods)

    Gst.init(None)
    pipeline = Gst.parse_launch(
        f"framebussrc segment={args.name} follow=true ! appsink name=out sync=false "
        f"max-buffers=4")
    sink = pipeline.get_by_name("out")
    pipeline.set_state(Gst.State.PLAYING)
    latencies = Latencies()
    stop = until_signalled()
    while not stop["now"]:
        sample = sink.try_pull_sample(200 * Gst.MSECOND)
        if sample is None:
            continue
        caps = sample.get_caps().get_structure(0)
        width = caps.get_value("width")
        buffer = sample.get_buffer()
        ok, info = buffer.map(Gst.MapFlags.READ)
        if not ok:
            continue
        stride = (width * 3 + 3) & ~3
        rows = np.frombuffer(info.data, np.uint8, count=stride * BLOCK * 4).reshape(
            BLOCK * 4, stride)
        top = rows[:, :BLOCK * COLUMNS * 3].reshape(BLOCK * 4, BLOCK * COLUMNS, 3)
        latencies.add(read_stamp(top))
        buffer.unmap(info)
    pipeline.set_state(Gst.State.NULL)
    latencies.report()


def role_zmq_publisher(args):
    import zmq

    socket = zmq.Context().socket(zmq.PUB)
    socket.bind(f"tcp://127.0.0.1:{args.port}")
    frames = moving_frames(args.width, args.height)
    stop = until_signalled()
    for step in paced(3600):
        if stop["now"]:
            break
        socket.send(next_frame(frames, step, now_us()), copy=False)


def role_zmq_subscriber(args):
    import numpy as np
    import zmq

    socket = zmq.Context().socket(zmq.SUB)
    socket.setsockopt(zmq.SUBSCRIBE, b"")
    socket.setsockopt(zmq.RCVTIMEO, 200)
    socket.connect(f"tcp://127.0.0.1:{args.port}")
    latencies = Latencies()
    stop = until_signalled()
    while not stop["now"]:
        try:
            message = socket.recv(copy=False)
        except zmq.Again:
            continue
        frame = np.frombuffer(message.buffer, np.uint8).reshape(args.height, args.width, 3)
        latencies.add(read_stamp(frame))
    latencies.report()


PROTO = """
syntax = "proto3";
package framebench;
message Frame { int32 width = 1; int32 height = 2; bytes data = 3; }
message Ack { int64 frames = 1; }
service FrameStream { rpc Send(stream Frame) returns (Ack); }
"""


def grpc_modules(directory):
    from grpc_tools import protoc

    proto = os.path.join(directory, "framebench.proto")
    if not os.path.exists(os.path.join(directory, "framebench_pb2_grpc.py")):
        with open(proto, "w") as f:
            f.write(PROTO)
        protoc.main(["protoc", f"-I{directory}", f"--python_out={directory}",
                     f"--grpc_python_out={directory}", proto])
    sys.path.insert(0, directory)
    import framebench_pb2
    import framebench_pb2_grpc

    return framebench_pb2, framebench_pb2_grpc


GRPC_OPTIONS = [("grpc.max_receive_message_length", 64 << 20),
                ("grpc.max_send_message_length", 64 << 20)]


def role_grpc_server(args):
    from concurrent import futures

    import grpc
    import numpy as np

    pb2, pb2_grpc = grpc_modules(args.proto_dir)
    latencies = Latencies()

    class Servicer(pb2_grpc.FrameStreamServicer):
        def Send(self, request_iterator, context):
            for message in request_iterator:
                frame = np.frombuffer(message.data, np.uint8).reshape(message.height,
                                                                      message.width, 3)
                latencies.add(read_stamp(frame))
            return pb2.Ack(frames=latencies.frames)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=GRPC_OPTIONS)
    pb2_grpc.add_FrameStreamServicer_to_server(Servicer(), server)
    server.add_insecure_port(f"127.0.0.1:{args.port}")
    server.start()
    stop = until_signalled()
    while not stop["now"]:
        time.sleep(0.1)
    server.stop(0)
    latencies.report()


def role_grpc_client(args):
    import grpc

    pb2, pb2_grpc = grpc_modules(args.proto_dir)
    frames = moving_frames(args.width, args.height)
    stop = until_signalled()

    def messages():
        for step in paced(3600):
            if stop["now"]:
                return
            frame = next_frame(frames, step, now_us())
            yield pb2.Frame(width=args.width, height=args.height, data=frame.tobytes())

    channel = grpc.insecure_channel(f"127.0.0.1:{args.port}", options=GRPC_OPTIONS)
    grpc.channel_ready_future(channel).result(timeout=10)
    try:
        pb2_grpc.FrameStreamStub(channel).Send(messages())
    except grpc.RpcError:
        pass  # the server went first


# ---- the orchestrator ----

def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


class Case:
    def __init__(self, build, env):
        self.build = build
        self.env = env
        self.processes = []

    def start(self, argv, env=None, stdout=subprocess.DEVNULL):
        process = subprocess.Popen(argv, env=env or self.env, stdout=stdout,
                                   stderr=subprocess.DEVNULL, text=True)
        self.processes.append(process)
        return process

    def role(self, name, *extra, stdout=subprocess.DEVNULL):
        return self.start([PYTHON, HERE, "--role", name, *extra], stdout=stdout)

    def measure(self, receiver, seconds):
        # The first frame can take seconds (RTSP setup, FFmpeg's stream
        # probing, HTTP/2 windows); then the receiver's warm-up; then the window.
        ready, _, _ = select.select([receiver.stdout], [], [], 60)
        if ready:
            receiver.stdout.readline()
        time.sleep(WARMUP_SECONDS + 0.5)
        pids = [p.pid for p in self.processes]
        before, start = cpu_seconds(pids), time.monotonic()
        time.sleep(seconds)
        cpu = (cpu_seconds(pids) - before) / (time.monotonic() - start) * 100
        receiver.send_signal(signal.SIGTERM)
        try:
            out, _ = receiver.communicate(timeout=20)
            result = json.loads(out.strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, ValueError, IndexError):
            result = {"frames": 0, "fps": 0}
        result["cpu_percent"] = cpu
        return result

    def stop(self):
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_rtsp(build, env, codec, width, height, seconds):
    tag = f"{os.getpid()}"
    a, b = f"nb-a-{tag}", f"nb-b-{tag}"
    case = Case(build, env)
    try:
        size = ["--width", str(width), "--height", str(height)]
        case.role("bus-source", "--name", a, *size)
        server = case.start([os.path.join(build, "rtsp", "framebus-rtsp"), "--listen",
                             "127.0.0.1:0", "--codec", codec, "--quiet"], stdout=subprocess.PIPE)
        match = re.search(r":(\d+)/", server.stdout.readline())
        far_env = dict(env, OPENCV_FFMPEG_CAPTURE_OPTIONS="rtsp_transport;tcp|fflags;nobuffer")
        deadline = time.monotonic() + 10
        while not os.path.exists(f"/dev/shm/{a}") and time.monotonic() < deadline:
            time.sleep(0.05)
        case.start([os.path.join(build, "writer", "framebus-writer"),
                    f"rtsp://127.0.0.1:{match.group(1)}/{a}", "--name", b, "--quiet"],
                   env=far_env)
        receiver = case.role("bus-receiver", "--name", b, *size, stdout=subprocess.PIPE)
        return case.measure(receiver, seconds)
    finally:
        case.stop()


def run_pair(build, env, server_role, client_role, width, height, seconds, proto_dir):
    port = str(free_port())
    case = Case(build, env)
    try:
        size = ["--width", str(width), "--height", str(height), "--port", port,
                "--proto-dir", proto_dir]
        receiver = case.role(server_role, *size, stdout=subprocess.PIPE)
        time.sleep(0.5)  # the server binds before the client connects
        case.role(client_role, *size)
        return case.measure(receiver, seconds)
    finally:
        case.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", help="framebus build directory")
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--sizes", default="640x480,1920x1080")
    parser.add_argument("--role")
    parser.add_argument("--name")
    parser.add_argument("--width", type=int)
    parser.add_argument("--height", type=int)
    parser.add_argument("--port")
    parser.add_argument("--proto-dir")
    args = parser.parse_args()

    if args.role:
        roles = {"bus-source": role_bus_source, "bus-receiver": role_bus_receiver,
                 "zmq-pub": role_zmq_publisher, "zmq-sub": role_zmq_subscriber,
                 "grpc-server": role_grpc_server, "grpc-client": role_grpc_client}
        roles[args.role](args)
        return 0
    if not args.build:
        parser.error("--build BUILD_DIR is required")
    build = os.path.abspath(args.build)
    env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(build, "gst"))
    rows = []
    with tempfile.TemporaryDirectory() as proto_dir:
        env["GST_REGISTRY"] = os.path.join(proto_dir, "registry.bin")
        grpc_modules(proto_dir)
        for size in args.sizes.split(","):
            width, height = (int(v) for v in size.split("x"))
            cases = [(f"RTSP bridge, {codec}",
                      lambda c=codec: run_rtsp(build, env, c, width, height, args.seconds))
                     for codec in ("raw", "jpeg", "h264")]
            cases.append(("Python gRPC stream, raw", lambda: run_pair(
                build, env, "grpc-server", "grpc-client", width, height, args.seconds,
                proto_dir)))
            cases.append(("ZeroMQ PUB/SUB tcp, raw", lambda: run_pair(
                build, env, "zmq-sub", "zmq-pub", width, height, args.seconds, proto_dir)))
            for label, run in cases:
                print(f"running {label} at {size} ...", file=sys.stderr, flush=True)
                rows.append((size, label, run()))
    print(f"| size | transport | frames/s (source {FPS}) | latency p50 | latency p95 "
          f"| CPU, all processes |")
    print("|---|---|---|---|---|---|")
    for size, label, r in rows:
        p50 = f"{r['p50_ms']:.1f} ms" if "p50_ms" in r else "–"
        p95 = f"{r['p95_ms']:.1f} ms" if "p95_ms" in r else "–"
        print(f"| {size} | {label} | {r['fps']:.1f} | {p50} | {p95} | "
              f"{r['cpu_percent']:.0f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
