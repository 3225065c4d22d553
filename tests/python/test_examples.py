"""The examples in examples/python/, run headless: a file writer, the detector
publishing annotated frames, the display (Qt's offscreen platform, no X)."""

import os

import numpy as np
import pytest

from conftest import PYTHON, SOURCE_DIR, read_line, wait_for_segment

cv2 = pytest.importorskip("cv2")
EXAMPLES = os.path.join(SOURCE_DIR, "examples", "python")


@pytest.fixture
def video(tmp_path):
    """A short clip with a bright square moving over a dark background."""
    path = str(tmp_path / "clip.avi")
    out = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 30, (160, 120))
    for i in range(30):
        image = np.full((120, 160, 3), 30, np.uint8)
        cv2.rectangle(image, (10 + 3 * i, 40), (40 + 3 * i, 70), (255, 255, 255), -1)
        out.write(image)
    out.release()
    return path


def example(name):
    return os.path.join(EXAMPLES, name)


def test_writer_detector_and_display(name, video, processes):
    writer = processes([PYTHON, example("writer.py"), "--name", name, "--loop", "--fps", "60",
                        video])
    assert read_line(writer).startswith("writer.py:")
    boxes = f"{name}-boxes"
    detector = processes([PYTHON, example("detector.py"), name, "--output", boxes])
    wait_for_segment(boxes, detector)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    env.pop("DISPLAY", None)
    display = processes([PYTHON, example("display.py"), boxes, "--max-frames", "10"], env=env)

    code, out, err = display.finish(timeout=60)
    assert code == 0, err
    assert "shown=10" in out
    writer.signal(2)  # Ctrl-C: end of stream, which ends the detector's loop
    code, out, err = writer.finish()
    assert code == 0, err
    assert not os.path.exists(os.path.join("/dev/shm", name))
    code, out, err = detector.finish(timeout=60)
    assert code == 0, err
    frames = [line for line in out.splitlines() if line.startswith("frame")]
    assert len(frames) >= 10
    assert all(line.endswith(": 1 boxes") for line in frames)  # it found the square each time
    assert not os.path.exists(os.path.join("/dev/shm", boxes))


def test_writer_reports_an_unreadable_source(name, processes, tmp_path):
    missing = str(tmp_path / "missing.avi")
    code, _, err = processes([PYTHON, example("writer.py"), "--name", name, missing]).finish()
    assert code == 2 and "cannot read" in err
