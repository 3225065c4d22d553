"""The lifetime link: a numpy view keeps its lease; nothing dangles; nobody waits."""

import gc
import json
import signal
import subprocess

import numpy as np
import pytest

import framebus
from conftest import CLI_BIN, read_line

W, H = 64, 48


def publish(writer, value):
    """One frame filled with `value` (its sequence, mod 256, in the tests)."""
    slot = writer.acquire()
    slot.array[:] = value  # the temporary array is gone before commit
    slot.commit()


def test_a_view_outlives_its_frame_and_keeps_the_slot(name):
    with framebus.Writer(name, W, H, slots=3, max_readers=1) as writer:
        reader = framebus.Reader(name)
        publish(writer, 1)
        frame = reader.latest()
        view = frame.array[10:20, 5:9]  # a view of the view: its base is still ours
        del frame
        gc.collect()
        for value in range(2, 30):  # every other slot is rewritten many times
            publish(writer, value)
        assert (view == 1).all()
        del view


def test_a_view_outlives_its_reader(name):
    with framebus.Writer(name, W, H, slots=3, max_readers=1) as writer:
        reader = framebus.Reader(name)
        publish(writer, 5)
        view = reader.latest().array
        reader.close()
        del reader
        gc.collect()
        for value in range(6, 30):
            publish(writer, value)
        assert (view == 5).all()
        # A new reader takes the entry once the last view is gone.
        del view
        gc.collect()
        assert framebus.Reader(name).latest().array[0, 0, 0] == 29


def test_release_with_live_views_raises_buffer_error(name):
    with framebus.Writer(name, W, H) as writer:
        reader = framebus.Reader(name)
        publish(writer, 1)
        frame = reader.latest()
        view = frame.array
        assert frame.exports == 1
        with pytest.raises(BufferError, match="1 numpy array"):
            frame.release()
        with pytest.raises(BufferError):
            with frame:
                pass
        assert (view == 1).all()  # still leased, still intact
        del view
        frame.release()
        assert frame.released
        with pytest.raises(ValueError, match="released"):
            frame.array
        frame.release()  # idempotent


def test_reader_views_are_read_only(name):
    with framebus.Writer(name, W, H) as writer:
        reader = framebus.Reader(name)
        publish(writer, 1)
        view = reader.latest().array
        with pytest.raises(ValueError, match="read-only"):
            view[0, 0, 0] = 9
        with pytest.raises(ValueError):
            view.flags.writeable = True


def test_committing_a_slot_with_live_views_raises_buffer_error(name):
    with framebus.Writer(name, W, H) as writer:
        slot = writer.acquire()
        view = slot.array
        view[:] = 3
        with pytest.raises(BufferError):
            slot.commit()
        with pytest.raises(BufferError):
            writer.close()
        with pytest.raises(BufferError):
            with slot:
                pass
        del view
        slot.commit()
        assert framebus.Reader(name).latest().array[0, 0, 0] == 3


def test_an_exception_in_the_with_block_abandons_the_slot(name):
    with framebus.Writer(name, W, H) as writer:
        reader = framebus.Reader(name)
        with pytest.raises(RuntimeError):
            with writer.acquire() as slot:
                slot.array[:] = 1
                raise RuntimeError("decoder failed")
        assert reader.latest() is None  # nothing was published
        with writer.acquire() as slot:
            slot.array[:] = 2
        assert reader.latest().array[0, 0, 0] == 2


def test_a_reader_holding_every_frame_never_blocks_the_writer(name):
    with framebus.Writer(name, W, H, max_readers=2) as writer:
        reader = framebus.Reader(name)
        if reader.max_leases < 2:
            pytest.skip("needs multi-lease readers (layout v2)")
        held = []
        for value in range(1, 101):
            publish(writer, value)  # raises if the writer found no free slot
            frame = reader.latest()
            held.append((value, frame, frame.array))
        assert writer.stats["dropped"] == 0
        in_place = sum(1 for _, frame, _ in held if frame.in_place)
        assert 1 <= in_place <= reader.max_leases - 1
        assert reader.copies == 100 - in_place
        for value, _, array in held:
            assert (array == value % 256).all()


def test_frames_without_views_move_out_of_their_slots(name):
    with framebus.Writer(name, W, H) as writer:
        reader = framebus.Reader(name)
        frames = []
        for value in range(1, 21):
            publish(writer, value)
            frames.append(reader.latest())  # frames kept, but no array taken
        assert all(frame.array[0, 0, 0] == value for value, frame in enumerate(frames, 1))
        assert reader.leases_held <= max(1, reader.max_leases - 1)


def test_a_killed_reader_holding_views_loses_its_leases(name, python_process):
    with framebus.Writer(name, W, H, max_readers=2) as writer:
        publish(writer, 1)
        holder = python_process(
            "import sys, framebus\n"
            "reader = framebus.Reader(sys.argv[1])\n"
            "views = [reader.latest().array]\n"
            "print('holding', flush=True)\n"
            "import signal; signal.pause()\n", name)
        assert read_line(holder) == "holding"

        def holders():
            out = subprocess.run([CLI_BIN, "info", name, "--json"], capture_output=True,
                                 text=True, check=True).stdout
            return [h for slot in json.loads(out)["slots"] for h in slot["holders"]]

        assert holders() != []
        holder.signal(signal.SIGKILL)
        holder.finish()
        subprocess.run([CLI_BIN, "clean", name], capture_output=True, check=True)
        assert holders() == []
        for value in range(2, 20):
            publish(writer, value)
        assert writer.stats["dropped"] == 0
