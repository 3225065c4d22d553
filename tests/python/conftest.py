"""Fixtures for the Python package's tests: real programs, unique segment names."""

import itertools
import os
import signal
import subprocess
import sys
import time

import pytest

import framebus

WRITER_BIN = os.environ.get("FRAMEBUS_WRITER_BIN", "framebus-writer")
READER_BIN = os.environ.get("FRAMEBUS_READER_BIN", "framebus-reader")
CLI_BIN = os.environ.get("FRAMEBUS_CLI_BIN", "framebus")
SOURCE_DIR = os.environ.get("FRAMEBUS_SOURCE_DIR",
                            os.path.join(os.path.dirname(__file__), "..", ".."))
PYTHON = sys.executable  # the interpreter ctest runs (the one the module was built for)

_counter = itertools.count()


def shm_path(name):
    return os.path.join("/dev/shm", name)


def remove_segment(name):
    try:
        os.unlink(shm_path(name))
    except FileNotFoundError:
        pass


@pytest.fixture
def name(request):
    """A segment name of this test alone, removed before and after."""
    test = "".join(c if c.isalnum() else "-" for c in request.node.name)[:40]
    segment = f"pytest-{os.getpid()}-{next(_counter)}-{test}"
    remove_segment(segment)
    yield segment
    remove_segment(segment)


class Process:
    """A child process, killed at the end of the test if still running."""

    def __init__(self, args, **kwargs):
        self.args = args
        self.popen = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, **kwargs)

    @property
    def pid(self):
        return self.popen.pid

    def signal(self, sig):
        self.popen.send_signal(sig)

    def finish(self, timeout=30):
        """Waits for exit; returns (code, stdout, stderr)."""
        out, err = self.popen.communicate(timeout=timeout)
        return self.popen.returncode, out, err

    def kill(self):
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.communicate()


@pytest.fixture
def processes():
    started = []

    def start(args, **kwargs):
        process = Process([str(a) for a in args], **kwargs)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


@pytest.fixture
def start_writer(processes):
    """framebus-writer on its stamped test pattern; returns once the segment exists."""

    def start(name, fps=200, size=None, fmt=None, extra=()):
        args = [WRITER_BIN, "--name", name, "--fps", fps, "--quiet"]
        if size:
            args += ["--resize", size]
        if fmt:
            args += ["--format", fmt]
        process = processes(args + list(extra))
        wait_for_segment(name, process)
        return process

    return start


def wait_for_segment(name, process=None, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not os.path.exists(shm_path(name)):
        if process is not None and process.popen.poll() is not None:
            code, out, err = process.finish()
            raise AssertionError(f"{process.args} exited with {code}: {err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"segment {name} did not appear")
        time.sleep(0.01)  # polling a file's existence: nothing to wait on


@pytest.fixture
def python_process(processes):
    """Runs a Python snippet under the same interpreter, with framebus importable."""

    def start(code, *args):
        return processes([PYTHON, "-c", code, *args])

    return start


def read_line(process, timeout=10.0):
    """The next line of a child's stdout (the child prints and flushes it)."""
    import selectors
    selector = selectors.DefaultSelector()
    selector.register(process.popen.stdout, selectors.EVENT_READ)
    if not selector.select(timeout):
        raise AssertionError(f"no output from {process.args} within {timeout} s")
    return process.popen.stdout.readline().strip()


__all__ = ["framebus", "signal"]
