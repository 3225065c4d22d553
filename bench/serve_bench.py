#!/usr/bin/python3
"""framebus-serve against a Flask MJPEG server, in the same run.

One framebus-writer publishes its 640x480 test pattern at 30 fps. Both
servers stream it as MJPEG at JPEG quality 80: framebus-serve straight from
the bus, the Flask server (bench/serve_flask.py, built as the widely copied
tutorial builds it) from a pipe fed with the same frames. At 1, 10 and 50
clients (bench/serve_clients.cpp, C++, one thread each) we measure the frames
per second delivered per client, the server's CPU (its process only, from
/proc/PID/stat, in % of one core) and the frame age at the client (publish on
the bus -> last byte of the part received). Prints a markdown table.

    /usr/bin/python3 bench/serve_bench.py BUILD_DIR [--seconds 8] [--clients 1,10,50] [--size 640x480]
"""
import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def measure(clients_bin, server_pid, port, target, clients, seconds):
    run = subprocess.Popen([clients_bin, str(port), target, str(clients), str(seconds)],
                           stdout=subprocess.PIPE, text=True)
    if run.stdout.readline().strip() != "ready":
        raise RuntimeError("clients did not connect")
    cpu_before, wall_before = cpu_seconds(server_pid), time.monotonic()
    result = json.loads(run.stdout.readline())
    cpu_after, wall_after = cpu_seconds(server_pid), time.monotonic()
    run.wait()
    result["cpu_percent"] = 100 * (cpu_after - cpu_before) / (wall_after - wall_before)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("build", help="the build directory (framebus-writer, framebus-serve, bench tools)")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--clients", default="1,10,50")
    parser.add_argument("--size", default="640x480", help="the test pattern's frame size, WxH")
    args = parser.parse_args()
    build = os.path.abspath(args.build)
    writer_bin = os.path.join(build, "writer", "framebus-writer")
    serve_bin = os.path.join(build, "serve", "framebus-serve")
    clients_bin = os.path.join(build, "bench", "framebus-serve-bench-clients")
    feeder_bin = os.path.join(build, "bench", "framebus-serve-bench-feeder")
    counts = [int(c) for c in args.clients.split(",")]

    name = f"serve-bench-{os.getpid()}"
    processes = []
    try:
        writer = subprocess.Popen([writer_bin, "--name", name, "--fps", "30", "--resize", args.size, "--quiet"])
        processes.append(writer)
        time.sleep(0.5)  # the writer creates its segment; the feeder also waits for it

        serve = subprocess.Popen([serve_bin, "--listen", "127.0.0.1:0", "--quality", "80"],
                                 stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        processes.append(serve)
        line = serve.stderr.readline()
        serve_port = int(re.search(r"127\.0\.0\.1:(\d+)/", line).group(1))

        feeder = subprocess.Popen([feeder_bin, name], stdout=subprocess.PIPE)
        processes.append(feeder)
        flask_port = free_port()
        flask = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "serve_flask.py"), str(flask_port)],
                                 stdin=feeder.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        feeder.stdout.close()
        processes.append(flask)
        wait_for_port(flask_port)

        rows = []
        for clients in counts:
            ours = measure(clients_bin, serve.pid, serve_port, f"/stream/{name}?quality=80", clients, args.seconds)
            theirs = measure(clients_bin, flask.pid, flask_port, "/video_feed", clients, args.seconds)
            rows.append((clients, ours, theirs))
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    print(f"framebus-serve vs Flask MJPEG (tutorial), {args.size} test pattern at 30 fps, JPEG quality 80, "
          f"{args.seconds:g} s per point, {os.cpu_count()} CPUs\n")
    print("| clients | fps per client (mean / min) | server CPU (% of a core) | frame age p50 / p99 |")
    print("|--:|--|--|--|")
    for clients, ours, theirs in rows:
        print(f"| {clients} | framebus-serve {ours['fps_mean']:.1f} / {ours['fps_min']:.1f}; "
              f"Flask {theirs['fps_mean']:.1f} / {theirs['fps_min']:.1f} "
              f"| framebus-serve {ours['cpu_percent']:.1f}; Flask {theirs['cpu_percent']:.1f} "
              f"({theirs['cpu_percent'] / max(ours['cpu_percent'], 0.1):.1f}x) "
              f"| framebus-serve {ours['age_p50_ms']:.1f} / {ours['age_p99_ms']:.1f} ms; "
              f"Flask {theirs['age_p50_ms']:.1f} / {theirs['age_p99_ms']:.1f} ms "
              f"({theirs['age_p50_ms'] / max(ours['age_p50_ms'], 0.01):.1f}x) |")
    base = rows[0][1]["cpu_percent"]
    for clients, ours, _ in rows:
        if ours["failed"]:
            print(f"\nframebus-serve: {ours['failed']} of {clients} clients failed")
    flask_base = rows[0][2]["cpu_percent"]
    print(f"\nserver CPU at {rows[-1][0]} clients / at {rows[0][0]}: framebus-serve "
          f"{rows[-1][1]['cpu_percent'] / max(base, 0.1):.2f}x (target <= 1.5x), Flask "
          f"{rows[-1][2]['cpu_percent'] / max(flask_base, 0.1):.2f}x")
    print(f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    sys.exit(main())
