"""wait() releases the GIL: other Python threads run while a reader blocks."""

import threading
import time

import framebus


def test_other_threads_run_while_a_reader_waits(name):
    with framebus.Writer(name, 64, 48) as writer:
        reader = framebus.Reader(name)
        counted = 0
        stop = threading.Event()

        def count():
            nonlocal counted
            while not stop.is_set():
                counted += 1

        counter = threading.Thread(target=count)
        counter.start()
        started = time.monotonic()
        status = reader.wait(0.5)  # nothing is published: the whole timeout
        waited = time.monotonic() - started
        stop.set()
        counter.join()
        assert status == "timed_out" and waited >= 0.5
        # With the GIL held for 0.5 s the counter would barely have run.
        assert counted > 100_000, counted


def test_a_frame_published_by_another_thread_wakes_the_reader(name):
    with framebus.Writer(name, 64, 48) as writer:
        reader = framebus.Reader(name)
        ready = threading.Event()

        def publish():
            ready.wait()
            with writer.acquire() as slot:
                slot.array[:] = 4

        thread = threading.Thread(target=publish)
        thread.start()
        ready.set()
        assert reader.wait(10) == "frame"  # the publisher needs the GIL to get there
        thread.join()
        assert reader.latest().array[0, 0, 0] == 4


def test_frames_dropped_by_another_thread_during_a_wait_are_released(name):
    with framebus.Writer(name, 64, 48) as writer:
        reader = framebus.Reader(name)
        with writer.acquire() as slot:
            slot.array[:] = 1
        frame = reader.latest()
        dropper = threading.Timer(0.1, lambda: frame.release())
        dropper.start()
        assert reader.wait(0.4) == "timed_out"  # nothing newer; the release queued meanwhile
        dropper.join()
        assert reader.leases_held == 0


def test_ctrl_c_interrupts_a_blocked_iteration(name, python_process):
    import signal

    from conftest import read_line

    with framebus.Writer(name, 64, 48):
        reader = python_process(
            "import sys, framebus\n"
            "with framebus.Reader(sys.argv[1]) as reader:\n"
            "    try:\n"
            "        print('waiting', flush=True)\n"
            "        for frame in reader:\n"
            "            pass\n"
            "    except KeyboardInterrupt:\n"
            "        print('interrupted', flush=True)\n", name)
        assert read_line(reader) == "waiting"
        reader.signal(signal.SIGINT)
        code, out, err = reader.finish(timeout=10)
        assert code == 0 and out.strip() == "interrupted", err
