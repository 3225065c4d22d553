"""Python readers of the C++ framebus-writer: every frame's stamp checked."""

import signal

import numpy as np
import pytest

import framebus
from conftest import READER_BIN


def take_checked(reader, count, mode, timeout=10.0):
    """Takes `count` frames, checks each one's stamp, returns their sequences."""
    sequences = []
    for frame in reader.frames_iter(mode=mode, timeout=timeout):
        check, number = frame.check_stamp()
        assert check == "ok", f"frame {frame.sequence}: stamp {check}"
        img = frame.array
        assert img.shape == (frame.height, frame.width, 3) and img.dtype == np.uint8
        assert not img.flags.writeable
        sequences.append(frame.sequence)
        del img, frame
        if len(sequences) == count:
            return sequences
    raise AssertionError("stream ended early")


def test_latest_reader_checks_every_stamp(name, start_writer):
    start_writer(name, fps=300)
    with framebus.Reader(name, wait=5) as reader:
        sequences = take_checked(reader, 60, "latest")
    assert sequences == sorted(sequences) and len(set(sequences)) == 60


def test_next_reader_sees_every_frame_in_order(name, start_writer):
    start_writer(name, fps=200)
    with framebus.Reader(name, wait=5, mode="next") as reader:
        sequences = take_checked(reader, 80, "next")
        skipped = reader.skipped
    # In order; whatever it could not keep up with is counted, never lost silently.
    assert sequences == sorted(sequences)
    assert sequences[-1] - sequences[0] + 1 == len(sequences) + skipped


@pytest.mark.parametrize("fmt,shape", [("gray8", (48, 64)), ("rgb24", (48, 64, 3))])
def test_arrays_of_the_cpp_writers_formats(name, start_writer, fmt, shape):
    start_writer(name, fps=100, size="64x48", fmt=fmt)
    with framebus.Reader(name, wait=5) as reader:
        assert reader.wait(5) == "frame"
        frame = reader.latest()
        assert frame.format == fmt
        assert frame.array.shape == shape and frame.array.dtype == np.uint8
        assert frame.check_stamp()[0] == "ok"
        assert frame.to_bgr().shape == (48, 64, 3)


@pytest.mark.parametrize("fmt,shape,dtype", [
    ("bgr24", (48, 64, 3), np.uint8), ("gray8", (48, 64), np.uint8),
    ("rgba32", (48, 64, 4), np.uint8), ("bgra32", (48, 64, 4), np.uint8),
    ("gray16", (48, 64), np.uint16)])
def test_arrays_take_shape_and_dtype_from_the_frame(name, fmt, shape, dtype):
    with framebus.Writer(name, 64, 48, format=fmt) as writer:
        reader = framebus.Reader(name)
        with writer.acquire() as slot:
            assert slot.array.shape == shape and slot.array.dtype == dtype
            slot.array[:] = 200
        frame = reader.latest()
        assert frame.format == fmt
        assert frame.array.shape == shape and frame.array.dtype == dtype
        assert (frame.array == 200).all()
        assert frame.to_bgr().shape == (48, 64, 3)


def test_end_of_stream_ends_iteration(name, start_writer):
    writer = start_writer(name, fps=100, extra=["--max-frames", "20", "--keep"])
    with framebus.Reader(name, wait=5, mode="next") as reader:
        sequences = [frame.sequence for frame in reader.frames_iter(timeout=10)]
    assert writer.finish()[0] == 0
    assert sequences[-1] == 20
    assert reader.closed


def test_writer_death_raises_writer_gone(name, start_writer):
    writer = start_writer(name, fps=100, extra=["--keep"])
    with framebus.Reader(name, wait=5) as reader:
        frames = reader.frames_iter(timeout=10)
        next(frames)
        writer.signal(signal.SIGKILL)
        with pytest.raises(framebus.WriterGone):
            for _ in frames:
                pass


def test_follow_picks_up_a_restarted_writer(name, start_writer):
    first = start_writer(name, fps=100)
    with framebus.Reader(name, wait=5, follow=True) as reader:
        frames = reader.frames_iter(timeout=10)
        pid = reader.writer_pid
        next(frames)
        first.signal(signal.SIGKILL)
        first.finish()
        second = start_writer(name, fps=100)
        for frame in frames:
            if reader.writer_pid == second.pid:
                assert frame.check_stamp()[0] == "ok"
                break
        assert pid != reader.writer_pid


def test_python_and_cpp_readers_share_one_writer(name, start_writer, processes):
    start_writer(name, fps=200)
    cpp = processes([READER_BIN, "--headless", "--verify", "--quiet", "--max-frames", "60",
                     "--wait", "5", name])
    with framebus.Reader(name, wait=5) as latest, framebus.Reader(name, mode="next") as ordered:
        take_checked(latest, 40, "latest")
        take_checked(ordered, 40, "next")
    code, out, err = cpp.finish()
    assert code == 0, err
    assert "mismatches=0" in out


def test_follow_through_a_bigger_frame(name):
    with framebus.Writer(name, 64, 48) as writer:
        reader = framebus.Reader(name, follow=True)
        with writer.acquire() as slot:
            slot.array[:] = 1
        small = reader.latest()
        with writer.acquire(width=640, height=480) as slot:  # does not fit: a new segment
            slot.array[:] = 2
        assert writer.stats["replaced"] == 1
        statuses = [reader.wait(5) for _ in range(2)]
        assert "followed" in statuses
        frame = reader.latest()
        assert frame.array.shape == (480, 640, 3) and (frame.array == 2).all()
        assert (small.array == 1).all()  # the old segment's lease is still good
        assert reader.follows == 1
