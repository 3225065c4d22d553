#!/usr/bin/python3
"""The way it is commonly done, as the baseline of bench/serve_bench.py.

A Flask MJPEG server built as the widely copied tutorial builds it (Miguel
Grinberg, "Flask Video Streaming Revisited", base_camera.py): one background
camera thread reads the newest frame and encodes it once, every client thread
waits on its own event for the next frame, the development server runs one
thread per client. Two changes only, both for the measurement: each part
carries Content-Length and the frame's sequence and publish time
(CLOCK_MONOTONIC, as framebus-serve sends them), and the JPEG quality is 80 on
both sides.

The camera reads frames from stdin (bench/serve_pipe_feeder.cpp writes the
frames of a framebus segment to the pipe: the same frames framebus-serve sees).

    framebus-serve-bench-feeder NAME | /usr/bin/python3 serve_flask.py PORT
"""
import struct
import sys
import threading
import time

import cv2
import numpy as np
from flask import Flask, Response

QUALITY = 80


class CameraEvent:
    """An Event-like class that signals all active clients when a new frame is available."""

    def __init__(self):
        self.events = {}

    def wait(self):
        ident = threading.get_ident()
        if ident not in self.events:
            self.events[ident] = [threading.Event(), time.time()]
        return self.events[ident][0].wait()

    def set(self):
        now = time.time()
        remove = None
        for ident, event in self.events.items():
            if not event[0].is_set():
                event[0].set()
                event[1] = now
            elif now - event[1] > 5:
                remove = ident  # that client has gone
        if remove:
            del self.events[remove]

    def clear(self):
        self.events[threading.get_ident()][0].clear()


class Camera:
    thread = None
    frame = None
    last_access = 0
    event = CameraEvent()

    def __init__(self):
        if Camera.thread is None:
            Camera.last_access = time.time()
            Camera.thread = threading.Thread(target=self._thread, daemon=True)
            Camera.thread.start()
            Camera.event.wait()

    def get_frame(self):
        Camera.last_access = time.time()
        Camera.event.wait()
        Camera.event.clear()
        return Camera.frame

    @staticmethod
    def frames():
        pipe = sys.stdin.buffer
        while True:
            header = pipe.read(24)
            if len(header) < 24:
                return
            sequence, publish_ns, width, height = struct.unpack("<qqII", header)
            pixels = pipe.read(width * height * 3)
            image = np.frombuffer(pixels, np.uint8).reshape(height, width, 3)
            jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])[1].tobytes()
            yield sequence, publish_ns, jpeg

    @classmethod
    def _thread(cls):
        for frame in cls.frames():
            Camera.frame = frame
            Camera.event.set()
            time.sleep(0)
            if time.time() - Camera.last_access > 10:
                break  # nobody watched for 10 s: stop the camera
        Camera.thread = None


app = Flask(__name__)


def gen(camera):
    while True:
        sequence, publish_ns, jpeg = camera.get_frame()
        yield (b"--frame\r\nContent-Type: image/jpeg\r\n"
               b"Content-Length: %d\r\nX-Framebus-Sequence: %d\r\nX-Framebus-Publish-Ns: %d\r\n\r\n"
               % (len(jpeg), sequence, publish_ns) + jpeg + b"\r\n")


@app.route("/video_feed")
def video_feed():
    return Response(gen(Camera()), mimetype="multipart/x-mixed-replace; boundary=frame")


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True)
