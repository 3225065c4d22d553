"""framebus: zero-copy shared-memory frames between processes, as numpy arrays.

    import framebus
    with framebus.Reader("cam0", wait=5.0) as reader:
        for frame in reader:            # blocks (without the GIL) for a newer frame
            img = frame.array           # read-only numpy view of the slot, no copy

Lifetimes: ``frame.array`` is a view of shared memory whose ``base`` owns the
frame's lease, so the slot stays leased for as long as any array (or a view
of it) is alive, even after the frame and the reader are gone. Calling
``release()``, or leaving a ``with`` block, while such arrays exist raises
``BufferError`` (as ``mmap`` and ``multiprocessing.shared_memory`` do).
A reader keeps at most ``max_leases - 1`` frames in place; frames asked for
past that are copied (``frame.in_place`` is False, ``reader.copies`` counts
them), so a reader that holds on to frames never makes the writer wait.

Times (``capture_time``, ``publish_time``) are CLOCK_MONOTONIC seconds, the
clock of ``time.monotonic()``.
"""

import enum as _enum
import json as _json

from . import _framebus
from ._framebus import CorruptSegment, Error, Frame, TooManyReaders, WriteSlot

__all__ = [
    "Reader", "Writer", "Frame", "WriteSlot", "WaitStatus", "Error", "CorruptSegment",
    "TooManyReaders", "WriterGone", "list", "info", "pixel_formats",
]


class WaitStatus(str, _enum.Enum):
    """What Reader.wait() saw (a str: ``status == "frame"`` works too)."""

    FRAME = "frame"
    TIMED_OUT = "timed_out"
    END_OF_STREAM = "end_of_stream"
    WRITER_GONE = "writer_gone"
    REPLACED = "replaced"  # the name points at another segment (follow=False)
    FOLLOWED = "followed"  # follow=True switched to a new segment under the name


class WriterGone(Error):
    """The writer's process died (iteration without follow=True)."""


def _seconds(ns):
    return ns / 1e9 if ns else None


Frame.capture_time = property(lambda self: _seconds(self.capture_ns),
                              doc="capture time, CLOCK_MONOTONIC seconds (time.monotonic())")
Frame.publish_time = property(lambda self: _seconds(self.publish_ns),
                              doc="publish time, CLOCK_MONOTONIC seconds (time.monotonic())")
Frame.shape = property(lambda self: self.array.shape)


Frame.__enter__ = lambda self: self
Frame.__exit__ = lambda self, *exc: self.release()
Frame.__repr__ = lambda self: (
    f"<framebus.Frame #{self.sequence} {self.width}x{self.height} {self.format}"
    f"{' released' if self.released else '' if self.in_place else ' (copy)'}>")

WriteSlot.__repr__ = lambda self: (
    f"<framebus.WriteSlot #{self.sequence} {self.width}x{self.height} {self.format}>"
    if self.open else "<framebus.WriteSlot (done)>")


class Reader(_framebus._Reader):
    """One reader of the segment ``name``.

    wait: seconds to wait for the segment to appear (0: fail at once with
    FileNotFoundError). follow: follow the name to a new writer (a restart)
    or a replaced segment. mode: what iteration yields, "latest" (the newest
    frame, skipping what it could not keep up with) or "next" (every frame in
    order; frames overwritten before it got to them count in ``skipped``).
    """

    def __init__(self, name, wait=0.0, follow=False, mode="latest"):
        if mode not in ("latest", "next"):
            raise ValueError(f"mode must be 'latest' or 'next', not {mode!r}")
        super().__init__(name, float(wait), bool(follow))
        self.follow_writer = follow
        self.mode = mode

    def wait(self, timeout=None):
        """Blocks (GIL released) until a frame newer than the last one taken,
        a change of state, or the timeout (seconds; None: no limit)."""
        return WaitStatus(super().wait(timeout))

    def frames_iter(self, mode=None, timeout=None):
        """Yields frames until end of stream. The writer's death raises
        WriterGone, unless follow=True (then it waits for a new writer).

        A frame yielded here is released when the loop moves on, unless numpy
        arrays of it are still alive (they keep it): keep ``frame.array`` (or
        a copy) to use a frame later. So a loop holds one lease, not two.
        """
        take = self.next if (mode or self.mode) == "next" else self.latest
        previous = None
        while True:
            status = self.wait(timeout)
            if status in (WaitStatus.FRAME, WaitStatus.FOLLOWED):
                if previous is not None and previous.exports == 0:
                    previous.release()
                previous = take()
                if previous is not None:
                    yield previous
            elif status == WaitStatus.END_OF_STREAM:
                return
            elif status == WaitStatus.TIMED_OUT:
                if timeout is not None:
                    raise TimeoutError(f"no frame on {self.name!r} within {timeout} s")
            elif status == WaitStatus.WRITER_GONE:
                if not self.follow_writer:
                    raise WriterGone(f"the writer of {self.name!r} is gone")
                # follow=True: the next wait() looks for a new writer under the name
            elif status == WaitStatus.REPLACED:
                raise Error(f"segment {self.name!r} was replaced (open with follow=True)")

    def __iter__(self):
        return self.frames_iter()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "closed" if self.closed else f"frames={self.frames} skipped={self.skipped}"
        return f"<framebus.Reader {state}>"


class Writer(_framebus._Writer):
    """The writer of segment ``name``: frames of width x height in ``format``.

    acquire() gives a free slot with a writable numpy view; leaving
    ``with writer.acquire() as slot:`` commits it (an exception abandons it).
    close() (also leaving ``with Writer(...)``) marks end of stream and removes
    the segment unless keep=True. reuse_newest=True lets the writer overwrite
    the newest frame once every reader has it (one slot stays hot in the
    cache while readers keep up; latest() returns None while it is rewritten).
    """

    def __init__(self, name, width, height, format="bgr24", slots=0, max_readers=8,
                 leases_per_reader=0, mode=0o600, keep=False, slot_capacity=0,
                 reuse_newest=False):
        super().__init__(name, width, height, format, slots, max_readers, leases_per_reader,
                         mode, keep, slot_capacity, reuse_newest)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<framebus.Writer closed>" if self.closed else f"<framebus.Writer {self.name!r}>"


def pixel_formats():
    """Names of the pixel formats frames can have."""
    return _framebus.pixel_formats()


def list(sample_seconds=0.0):  # noqa: A001 - framebus.list() mirrors `framebus ls`
    """Every framebus segment: the document of ``framebus ls --json``
    (schema "framebus.ls/2", tools/JSON.md), parsed."""
    return _json.loads(_framebus.ls_json(float(sample_seconds)))


def info(name):
    """One segment in detail: the document of ``framebus info NAME --json``
    (schema "framebus.info/2"), parsed. FileNotFoundError if there is none."""
    return _json.loads(_framebus.info_json(name))
