#!/usr/bin/python3
"""Publish a camera or a video file on framebus, decoding straight into the slot.

    examples/python/writer.py --name cam0 0              # camera 0
    examples/python/writer.py --name clip video.mp4 --loop

cv2.VideoCapture.read(dst) decodes into the numpy view of a free slot: the
frame's last write lands in shared memory, no copy of ours.
"""

import argparse
import sys
import time

import cv2

import framebus


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="camera index (0) or video file")
    parser.add_argument("--name", default="framebus", help="segment name")
    parser.add_argument("--loop", action="store_true", help="start a file over at its end")
    parser.add_argument("--fps", type=float, default=0, help="pace (default: the file's rate)")
    parser.add_argument("--max-frames", type=int, default=0, help="stop after N frames")
    args = parser.parse_args()

    source = int(args.source) if args.source.isdigit() else args.source
    capture = cv2.VideoCapture(source)
    ok, first = capture.read()
    if not ok:
        print(f"writer.py: error: cannot read {args.source}", file=sys.stderr)
        return 2
    height, width = first.shape[:2]
    fps = args.fps or (0 if isinstance(source, int) else capture.get(cv2.CAP_PROP_FPS) or 30)
    period = 1 / fps if fps else 0

    frames = 0
    try:
        with framebus.Writer(args.name, width, height, format="bgr24") as writer:
            print(f"writer.py: {args.source} -> '{args.name}' {width}x{height}", flush=True)
            next_time = time.monotonic()
            while not args.max_frames or frames < args.max_frames:
                with writer.acquire() as slot:
                    # read() returns the array it was given (a view): index the
                    # result so no reference outlives the with block (commit).
                    if frames == 0:
                        slot.array[:] = first
                    elif not capture.read(slot.array)[0]:
                        slot.abandon()
                        if not args.loop:
                            break
                        capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
                        continue
                frames += 1
                if period:
                    next_time += period
                    time.sleep(max(0.0, next_time - time.monotonic()))
    except KeyboardInterrupt:
        pass  # the with block has marked end of stream and removed the segment
    print(f"writer.py: {frames} frames", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
