#!/usr/bin/python3
"""A Python reader of frames from another process, on framebus and on what
Python users do today, in one run: latency and frame rate at 640x480, 1080p, 4K.

    PYTHONPATH=build/python bench/python_bench.py --reader-bin build/reader/framebus-reader
    bench/python_bench.py --smoke      # a few frames of each (the programs run, a table comes out)

Transports (writer process -> reader process, both Python, pinned to CPUs 0 / 1):
  framebus   Writer.acquire() + commit; the reader blocks in wait(), takes latest()
             and its numpy view in place
  pipe       the frame through a pipe (1 MiB buffer) with a length prefix; the
             reader reads it into a preallocated numpy buffer (readinto, no extra copy)
  shm        multiprocessing.shared_memory with a polled 8-byte counter and no other
             synchronisation (how it is commonly done): the reader copies the frame
             out when the counter moves; torn frames are counted
  zmq        ZeroMQ PUB/SUB over ipc:// (pyzmq), zero-copy send of the numpy buffer
  C++ reader framebus-reader --headless on the same Python writer (publish -> lease)

Every writer fills the whole frame with one value per frame (the stand-in for a
decoder writing it) before it takes the send time. Latency: send time (for
framebus the library's publish time) to the reader holding the frame as a numpy
array, one frame in flight (the writer waits for the reader's ack, then 2 ms so
the reader is idle again). Frame rate: the writer sends as fast as it can for a
fixed time; fps counts the distinct frames the reader got. Every frame received
is checked at 64 places for the writer's value: a mismatch is a torn frame.
Absolute times vary between machines; the ratios in one run carry over.
"""

import argparse
import fcntl
import os
import select
import struct
import subprocess
import sys
import time

import numpy as np

SIZES = [(640, 480), (1920, 1080), (3840, 2160)]
HEADER = struct.Struct("<QQq")  # payload bytes, frame number, send time (ns, CLOCK_MONOTONIC)
F_SETPIPE_SZ = 1031
PIPE_BYTES = 1 << 20


def now_ns():
    return time.monotonic_ns()


def pin(cpu):
    try:
        os.sched_setaffinity(0, {cpu % os.cpu_count()})
    except OSError:
        pass


def fill(array, number):
    array.fill(number & 0xFF)


def probes(nbytes):
    return np.linspace(0, nbytes - 1, 64).astype(np.int64)


def torn(flat, number, where):
    return bool((flat[where] != (number & 0xFF)).any())


# ---- writers (a child process each) ---------------------------------------------

class Control:
    """The writer's side of the control channel: 'go' lines and per-frame acks on stdin."""

    def __init__(self):
        self.fd = sys.stdin.fileno()

    def wait_byte(self, timeout=None):
        ready, _, _ = select.select([self.fd], [], [], timeout)
        return bool(ready) and os.read(self.fd, 1) != b""


def writer_main(args):
    pin(0)
    width, height = args.width, args.height
    shape = (height, width, 3)
    nbytes = width * height * 3
    control = Control()
    send, close = make_sender(args.transport, args.name, shape, nbytes, args.data_fd)
    sys.stderr.write("ready\n")
    sys.stderr.flush()
    control.wait_byte()  # go
    number = 0
    if args.mode == "latency":
        for number in range(1, args.frames + 1):
            send(number)
            if not control.wait_byte(timeout=5):
                break
            time.sleep(0.002)  # the reader is blocked again when the next frame comes
    else:
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            number += 1
            send(number)
    close(number)


def make_sender(transport, name, shape, nbytes, data_fd):
    if transport == "framebus":
        import framebus
        # One reader: the fewest slots; each is written once before the run, so
        # no frame pays the first touch of its pages (the other transports'
        # buffers are warm too, except ZeroMQ's new buffer per frame).
        writer = framebus.Writer(name, shape[1], shape[0], format="bgr24", max_readers=1)
        for number in range(2 * writer.slot_count):
            slot = writer.acquire()
            fill(slot.array, number)
            slot.abandon()

        def send(number):
            with writer.acquire() as slot:
                fill(slot.array, number)

        def close(_):
            writer.close()

        return send, close
    if transport == "pipe":
        frame = np.empty(nbytes, np.uint8)
        out = os.fdopen(data_fd, "wb", buffering=0)

        def send(number):
            fill(frame, number)
            out.write(HEADER.pack(nbytes, number, now_ns()))
            view = memoryview(frame)
            while view:
                view = view[out.write(view):]

        def close(_):
            out.write(HEADER.pack(0, 0, 0))
            out.close()

        return send, close
    if transport == "shm":
        from multiprocessing import shared_memory
        memory = shared_memory.SharedMemory(name=name, create=True, size=nbytes + HEADER.size)
        header = memory.buf[:HEADER.size]
        frame = np.ndarray(nbytes, np.uint8, memory.buf, HEADER.size)

        def send(number):
            fill(frame, number)
            header[:] = HEADER.pack(nbytes, number, now_ns())  # the "counter"

        def close(_):
            header[:] = HEADER.pack(0, 2**63, 0)
            header.release()
            memory.close()
            memory.unlink()

        return send, close
    if transport == "zmq":
        import zmq
        context = zmq.Context()
        socket = context.socket(zmq.PUB)
        socket.setsockopt(zmq.SNDHWM, 4)
        socket.bind(f"ipc:///tmp/{name}.ipc")
        def send(number):
            # A new buffer per frame, as a decoder returns one: zero-copy sends
            # keep the buffer until ZeroMQ is done with it.
            frame = np.empty(nbytes, np.uint8)
            fill(frame, number)
            socket.send_multipart([HEADER.pack(nbytes, number, now_ns()), frame], copy=False)

        def close(_):
            for _ in range(50):  # PUB/SUB has no end of stream: say it a few times
                socket.send_multipart([HEADER.pack(0, 0, 0), b""])
                time.sleep(0.01)
            socket.close(linger=0)
            context.term()
            try:
                os.unlink(f"/tmp/{name}.ipc")
            except FileNotFoundError:
                pass

        return send, close
    raise SystemExit(f"unknown transport {transport}")


# ---- readers (this process) ----------------------------------------------------------

class Run:
    def __init__(self):
        self.latencies = []
        self.frames = 0
        self.torn = 0
        self.started = self.ended = 0.0


def start_writer(args, transport, mode, width, height, name, frames, seconds):
    cmd = [sys.executable, os.path.abspath(__file__), "--role", "writer", "--transport", transport,
           "--mode", mode, "--width", str(width), "--height", str(height), "--name", name,
           "--frames", str(frames), "--seconds", str(seconds)]
    pass_fds = ()
    read_fd = None
    if transport == "pipe":
        read_fd, write_fd = os.pipe()
        try:
            fcntl.fcntl(write_fd, F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:
            pass
        cmd += ["--data-fd", str(write_fd)]
        pass_fds = (write_fd,)
    child = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE, pass_fds=pass_fds,
                             env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    if transport == "pipe":
        os.close(write_fd)
    line = child.stderr.readline()
    if line.strip() != b"ready":
        raise SystemExit(f"writer failed: {line.decode()}{child.stderr.read().decode()}")
    return child, read_fd


def go(child):
    child.stdin.write(b"g")
    child.stdin.flush()


def ack(child, mode):
    if mode == "latency":
        try:
            child.stdin.write(b"a")
            child.stdin.flush()
        except BrokenPipeError:
            pass


def read_framebus(child, name, mode, nbytes, run):
    import framebus
    reader = framebus.Reader(name, wait=5)
    where = probes(nbytes)
    go(child)
    run.started = time.monotonic()
    last = 0
    while True:
        status = reader.wait(5)
        if status != "frame":
            break
        frame = reader.latest()
        array = frame.array
        received = now_ns()
        if frame.sequence != last:
            last = frame.sequence
            run.frames += 1
            run.latencies.append(received - frame.publish_ns)
            run.torn += torn(array.reshape(-1), frame.sequence, where)
        del array
        frame.release()
        ack(child, mode)
    run.ended = time.monotonic()
    reader.close()


def read_exactly(fd, view):
    while view:
        n = os.readv(fd, [view])
        if n == 0:
            raise EOFError
        view = view[n:]


def read_pipe(child, fd, mode, nbytes, run):
    header = bytearray(HEADER.size)
    frame = np.empty(nbytes, np.uint8)
    where = probes(nbytes)
    go(child)
    run.started = time.monotonic()
    while True:
        read_exactly(fd, memoryview(header))
        size, number, sent = HEADER.unpack(header)
        if size == 0:
            break
        read_exactly(fd, memoryview(frame))
        run.latencies.append(now_ns() - sent)
        run.frames += 1
        run.torn += torn(frame, number, where)
        ack(child, mode)
    run.ended = time.monotonic()
    os.close(fd)


def read_shm(child, name, mode, nbytes, run):
    from multiprocessing import resource_tracker, shared_memory
    memory = shared_memory.SharedMemory(name=name)
    resource_tracker.unregister(memory._name, "shared_memory")  # the writer owns it
    header = memory.buf[:HEADER.size]
    shared = np.ndarray(nbytes, np.uint8, memory.buf, HEADER.size)
    frame = np.empty(nbytes, np.uint8)
    where = probes(nbytes)
    go(child)
    run.started = time.monotonic()
    last = 0
    while True:  # polling: nothing to block on
        _, number, sent = HEADER.unpack(header)
        if number == last:
            continue
        if number == 2**63:
            break
        last = number
        np.copyto(frame, shared)  # what a reader must do before the writer overwrites it
        run.latencies.append(now_ns() - sent)
        run.frames += 1
        run.torn += torn(frame, number, where)
        ack(child, mode)
    run.ended = time.monotonic()
    del shared
    header.release()
    memory.close()


def read_zmq(child, name, mode, nbytes, run):
    import zmq
    context = zmq.Context()
    socket = context.socket(zmq.SUB)
    socket.setsockopt(zmq.RCVHWM, 4)
    socket.setsockopt(zmq.SUBSCRIBE, b"")
    socket.connect(f"ipc:///tmp/{name}.ipc")
    time.sleep(0.3)  # PUB/SUB's slow joiner: the subscription must reach the publisher
    where = probes(nbytes)
    go(child)
    run.started = time.monotonic()
    while True:
        if not socket.poll(5000):
            break
        header, payload = socket.recv_multipart(copy=False)
        size, number, sent = HEADER.unpack(header.bytes)
        if size == 0:
            break
        frame = np.frombuffer(payload.buffer, np.uint8)
        run.latencies.append(now_ns() - sent)
        run.frames += 1
        run.torn += torn(frame, number, where)
        del frame, payload
        ack(child, mode)
    run.ended = time.monotonic()
    socket.close(linger=0)
    context.term()


def measure(args, transport, mode, width, height):
    name = f"pybench-{os.getpid()}-{transport}"
    nbytes = width * height * 3
    frames = args.latency_frames if mode == "latency" else 0
    run = Run()
    child, fd = start_writer(args, transport, mode, width, height, name, frames, args.seconds)
    try:
        if transport == "framebus":
            read_framebus(child, name, mode, nbytes, run)
        elif transport == "pipe":
            read_pipe(child, fd, mode, nbytes, run)
        elif transport == "shm":
            read_shm(child, name, mode, nbytes, run)
        else:
            read_zmq(child, name, mode, nbytes, run)
    finally:
        child.stdin.close()
        child.wait(timeout=60)
    return run


def measure_cpp(args, mode, width, height):
    """framebus-reader --headless on a Python writer: its summary line."""
    name = f"pybench-{os.getpid()}-cpp"
    frames = args.latency_frames if mode == "latency" else 0
    child, _ = start_writer(args, "framebus", mode, width, height, name, frames, args.seconds)
    reader = subprocess.Popen([args.reader_bin, "--headless", "--quiet", name],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The C++ reader does not ack: one frame in flight is kept by the writer's pacing.
    import framebus
    deadline = time.monotonic() + 10
    while framebus.info(name).get("readers_attached", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)  # the reader attaches before the writer starts
    go(child)
    if mode == "latency":
        for _ in range(frames):
            time.sleep(0.004)
            ack(child, mode)
    child.stdin.close()
    child.wait(timeout=60)
    out, err = reader.communicate(timeout=30)
    fields = dict(f.split("=", 1) for f in out.split() if "=" in f)
    return fields


def p(values, q):
    return float(np.percentile(values, q)) if values else float("nan")


def us(ns):
    return f"{ns / 1000:.0f} µs" if ns >= 10_000 else f"{ns / 1000:.1f} µs"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", default="reader", help=argparse.SUPPRESS)
    parser.add_argument("--transport", default="framebus", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="latency", help=argparse.SUPPRESS)
    parser.add_argument("--width", type=int, default=640, help=argparse.SUPPRESS)
    parser.add_argument("--height", type=int, default=480, help=argparse.SUPPRESS)
    parser.add_argument("--name", default="", help=argparse.SUPPRESS)
    parser.add_argument("--data-fd", type=int, default=-1, help=argparse.SUPPRESS)
    parser.add_argument("--frames", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--smoke", action="store_true", help="a few frames of each")
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each fps run")
    parser.add_argument("--latency-frames", type=int, default=200, help="frames per latency run")
    parser.add_argument("--reader-bin", help="framebus-reader, for the C++ reader row")
    parser.add_argument("--transports", default="framebus,pipe,shm,zmq")
    args = parser.parse_args()
    if args.role == "writer":
        return writer_main(args)

    if args.smoke:
        args.seconds, args.latency_frames = 0.3, 10
    pin(1)
    transports = args.transports.split(",")
    if "zmq" in transports:
        try:
            import zmq  # noqa: F401
        except ImportError:
            print("python_bench: no pyzmq (python3-zmq); the ZeroMQ row is left out", file=sys.stderr)
            transports.remove("zmq")

    results = {}
    for width, height in SIZES:
        for transport in transports:
            print(f"python_bench: {transport} {width}x{height}", file=sys.stderr)
            latency = measure(args, transport, "latency", width, height)
            rate = measure(args, transport, "fps", width, height)
            results[(transport, width)] = (latency, rate)
        if args.reader_bin:
            print(f"python_bench: C++ reader {width}x{height}", file=sys.stderr)
            results[("cpp", width)] = (measure_cpp(args, "latency", width, height),
                                       measure_cpp(args, "fps", width, height))
    print_report(results, transports, args)
    return 0


LABELS = {"framebus": "framebus, Python reader (blocked in `wait()`, numpy view in place)",
          "pipe": "pipe with a length prefix (1 MiB buffer, `readinto`)",
          "shm": "`multiprocessing.shared_memory`, polled counter (copy out)",
          "zmq": "ZeroMQ PUB/SUB `ipc://` (pyzmq, zero-copy send)",
          "cpp": "framebus, C++ `framebus-reader` (publish → lease)"}


def print_report(results, transports, args):
    names = [f"{w}x{h}" for w, h in SIZES]
    print(f"\n### A Python reader ({'smoke run: ' if args.smoke else ''}latency p50 / p99, "
          f"frames per second, torn frames)\n")
    print("| transport | " + " | ".join(names) + " |")
    print("|---|" + "--:|" * len(SIZES))
    rows = transports + (["cpp"] if args.reader_bin else [])
    for transport in rows:
        cells = []
        for width, _ in SIZES:
            latency, rate = results[(transport, width)]
            if transport == "cpp":
                fps = int(rate.get("frames", 0)) / args.seconds  # frames the writer's run gave it
                cells.append(f"{latency.get('latency_p50_us', '?')} µs / "
                             f"{latency.get('latency_p99_us', '?')} µs, {fps:.0f} fps")
                continue
            fps = rate.frames / max(rate.ended - rate.started, 1e-9)
            torn_total = latency.torn + rate.torn
            cell = (f"{us(p(latency.latencies, 50))} / {us(p(latency.latencies, 99))}, "
                    f"{fps:.0f} fps")
            if transport == "shm":
                got = latency.frames + rate.frames
                cell += f", **{torn_total} torn** of {got} ({100 * torn_total / max(got, 1):.0f} %)"
            elif torn_total:
                cell += f", {torn_total} torn"
            cells.append(cell)
        print(f"| {LABELS[transport]} | " + " | ".join(cells) + " |")
    if "framebus" in transports:
        print("\n| ratio of p50 latencies | " + " | ".join(names) + " |")
        print("|---|" + "--:|" * len(SIZES))
        for other in [t for t in transports if t != "framebus"]:
            cells = [f"{p(results[(other, w)][0].latencies, 50) / p(results[('framebus', w)][0].latencies, 50):.1f}×"
                     for w, _ in SIZES]
            print(f"| {other} ÷ framebus (Python) | " + " | ".join(cells) + " |")
        if args.reader_bin:
            cells = []
            for w, _ in SIZES:
                cpp = float(results[("cpp", w)][0].get("latency_p50_us", "nan"))
                cells.append(f"{p(results[('framebus', w)][0].latencies, 50) / 1000 / cpp:.2f}×")
            print("| framebus Python ÷ C++ reader | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
