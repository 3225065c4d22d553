"""A Python writer feeding the C++ framebus-reader --verify; Ctrl-C safety."""

import os
import signal

import framebus
from conftest import READER_BIN, read_line, shm_path

# A paced Python writer: a moving picture, every frame stamped for --verify.
WRITER = """
import sys, time, numpy as np, framebus
name, frames, fmt = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with framebus.Writer(name, 320, 240, format=fmt, keep=True) as writer:
    print("ready", flush=True)
    for number in range(1, frames + 1):
        with writer.acquire() as slot:
            img = slot.array
            img[:] = np.arange(img.shape[1], dtype=np.uint8)[None, :, None][:, :, :img.shape[2]] \
                if img.ndim == 3 else np.uint8(number)
            img[number % img.shape[0]] = 255
            del img
            slot.stamp(number)
        time.sleep(0.004)
    writer.end_of_stream()
"""


def test_cpp_reader_verifies_a_python_writer(name, python_process, processes):
    writer = python_process(WRITER, name, "150", "bgr24")
    assert read_line(writer) == "ready"
    reader = processes([READER_BIN, "--headless", "--verify", "--every", "--quiet", name])
    code, out, err = reader.finish()
    assert writer.finish()[0] == 0
    assert code == 0, err
    assert "mismatches=0" in out and "verified=0" not in out


def test_python_reader_checks_a_python_writer(name, python_process):
    writer = python_process(WRITER, name, "100", "gray8")
    assert read_line(writer) == "ready"
    checked = 0
    with framebus.Reader(name, wait=5, mode="next") as reader:
        for frame in reader.frames_iter(timeout=10):
            assert frame.check_stamp() == ("ok", frame.sequence)
            checked += 1
    assert writer.finish()[0] == 0
    assert checked >= 1


def test_ctrl_c_ends_a_python_writer_cleanly(name, python_process):
    writer = python_process(
        "import sys, framebus\n"
        "with framebus.Writer(sys.argv[1], 64, 48) as writer:\n"
        "    print('ready', flush=True)\n"
        "    while True:\n"
        "        with writer.acquire() as slot:\n"
        "            slot.array[:] = 1\n", name)
    assert read_line(writer) == "ready"
    reader = framebus.Reader(name)
    assert reader.wait(5) == "frame"
    writer.signal(signal.SIGINT)
    code, _, err = writer.finish()
    assert code != 0 and "KeyboardInterrupt" in err  # Python's own exit on Ctrl-C
    assert not os.path.exists(shm_path(name))  # the with block closed the segment
    reader.latest().release()  # catch up with the last frame
    assert reader.wait(1) == "end_of_stream"


def test_writer_properties(name):
    with framebus.Writer(name, 64, 48, format="rgb24", slots=5, max_readers=3) as writer:
        assert (writer.name, writer.slot_count, writer.max_readers) == (name, 5, 3)
        assert writer.slot_capacity >= 64 * 48 * 3
        reader = framebus.Reader(name)
        assert writer.readers_attached == 1
        with writer.acquire() as slot:
            assert slot.array.shape == (48, 64, 3) and slot.format == "rgb24"
            slot.array[:] = 9
        frame = reader.latest()
        assert frame.format == "rgb24" and frame.sequence == 1
        assert 0 < frame.capture_time <= frame.publish_time
        assert writer.stats["published"] == 1


def test_reuse_newest_writes_one_slot_while_the_reader_keeps_up(name):
    with framebus.Writer(name, 64, 48, format="gray8", reuse_newest=True) as writer:
        reader = framebus.Reader(name)
        slots = []
        for number in range(1, 11):
            with writer.acquire() as slot:
                slot.array[:] = number
                slots.append(slot.slot)
            frame = reader.next()
            assert frame.sequence == number and (frame.array == number).all()
            del frame  # lets the slot go: the writer may overwrite it now
        assert len(set(slots)) == 1, slots
        assert writer.stats["newest_reused"] == 9
        slot = writer.acquire()
        assert reader.latest() is None, "the only frame is being overwritten"
        slot.array[:] = 11
        slot.commit()
        assert reader.latest().sequence == 11
