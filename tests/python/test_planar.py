"""Planar and packed YUV frames: the whole frame in OpenCV's layout, plus .planes."""

import numpy as np
import pytest

import framebus
from conftest import READER_BIN, read_line

cv2 = pytest.importorskip("cv2")
W, H = 64, 48

LAYOUTS = {  # format: (whole frame, planes)
    "i420": ((H * 3 // 2, W), [(H, W), (H // 2, W // 2), (H // 2, W // 2)]),
    "nv12": ((H * 3 // 2, W), [(H, W), (H // 2, W // 2, 2)]),
    "yuyv": ((H, W, 2), [(H, W, 2)]),
}


def picture():
    image = np.zeros((H, W, 3), np.uint8)
    image[:, :W // 2] = (255, 0, 0)
    image[:, W // 2:] = (0, 200, 255)
    return image


def to_i420_planes(bgr):
    yuv = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)
    return yuv[:H], yuv[H:H + H // 4].reshape(H // 2, W // 2), yuv[H + H // 4:].reshape(H // 2, W // 2)


def fill(slot, fmt, bgr):
    y, u, v = to_i420_planes(bgr)
    planes = slot.planes
    if fmt == "i420":
        planes[0][:], planes[1][:], planes[2][:] = y, u, v
    elif fmt == "nv12":
        planes[0][:] = y
        planes[1][:] = np.dstack([u, v])
    else:  # yuyv: Y0 U Y1 V
        yuyv = planes[0]
        yuyv[:, :, 0] = y
        yuyv[:, 0::2, 1] = np.repeat(u, 2, axis=0)
        yuyv[:, 1::2, 1] = np.repeat(v, 2, axis=0)
    del planes


@pytest.mark.parametrize("fmt", sorted(LAYOUTS))
def test_yuv_frames_have_whole_and_plane_views(name, fmt):
    whole, planes = LAYOUTS[fmt]
    bgr = picture()
    with framebus.Writer(name, W, H, format=fmt) as writer:
        reader = framebus.Reader(name)
        with writer.acquire() as slot:
            assert slot.array.shape == whole
            assert [p.shape for p in slot.planes] == planes
            fill(slot, fmt, bgr)
            slot.stamp(1)
        frame = reader.latest()
        assert frame.format == fmt
        assert frame.array.shape == whole and not frame.array.flags.writeable
        assert [p.shape for p in frame.planes] == planes
        assert all(not p.flags.writeable for p in frame.planes)
        assert frame.check_stamp() == ("ok", 1)
        shown = frame.to_bgr()
        assert shown.shape == (H, W, 3)
        # Away from the stamp (row 0) the picture survives YUV's subsampling.
        assert np.abs(shown[8:].astype(int) - bgr[8:].astype(int)).mean() < 12


def test_plane_views_keep_the_frame_leased(name):
    with framebus.Writer(name, W, H, format="i420", slots=4, max_readers=1) as writer:
        reader = framebus.Reader(name)
        with writer.acquire() as slot:
            slot.array[:] = 7
        frame = reader.latest()
        u = frame.planes[1]
        with pytest.raises(BufferError):
            frame.release()
        del frame
        for value in range(8, 30):
            with writer.acquire() as slot:
                slot.array[:] = value
        assert (u == 7).all()


def test_subsampled_formats_need_even_sizes(name):
    with pytest.raises(ValueError, match="multiples of 2"):
        framebus.Writer(name, 63, 48, format="i420")


def test_cpp_reader_verifies_python_i420_frames(name, python_process, processes):
    writer = python_process(
        "import sys, time, framebus\n"
        "with framebus.Writer(sys.argv[1], 320, 240, format='i420', keep=True) as writer:\n"
        "    print('ready', flush=True)\n"
        "    for number in range(1, 61):\n"
        "        with writer.acquire() as slot:\n"
        "            slot.array[:] = number % 200\n"
        "            slot.stamp(number)\n"
        "        time.sleep(0.004)\n", name)
    assert read_line(writer) == "ready"
    code, out, err = processes([READER_BIN, "--headless", "--verify", "--every", "--quiet",
                                name]).finish()
    assert writer.finish()[0] == 0
    assert code == 0, err
    assert "mismatches=0" in out and "verified=0" not in out
