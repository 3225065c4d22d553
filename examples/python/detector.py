#!/usr/bin/python3
"""A "detector": finds bright regions in each frame, draws boxes on a copy and
publishes the annotated frames on a second segment (show it with display.py).

    examples/python/detector.py cam0 --output cam0-boxes

Stands in for YOLO or MediaPipe: a model reads the read-only view in place
(cv2, numpy and torch.from_numpy take it as it is); drawing needs a copy,
since frames on the bus are read-only.
"""

import argparse
import sys

import cv2

import framebus


def detect(image):
    """Bounding boxes of bright regions (x, y, w, h)."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    _, mask = cv2.threshold(gray, 200, 255, cv2.THRESH_BINARY)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [cv2.boundingRect(c) for c in contours if cv2.contourArea(c) > 20]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="segment to read")
    parser.add_argument("--output", help="segment for the annotated frames (default NAME-boxes)")
    parser.add_argument("--wait", type=float, default=5.0, help="seconds to wait for the writer")
    parser.add_argument("--max-frames", type=int, default=0, help="stop after N frames")
    args = parser.parse_args()

    done = boxes_total = 0
    with framebus.Reader(args.name, wait=args.wait, follow=True) as reader:
        writer = None
        for frame in reader:
            boxes = detect(frame.array)  # in place, no copy
            annotated = frame.to_bgr()   # a copy to draw on
            for x, y, w, h in boxes:
                cv2.rectangle(annotated, (x, y), (x + w, y + h), (0, 0, 255), 2)
            if writer is None:
                writer = framebus.Writer(args.output or f"{args.name}-boxes",
                                         annotated.shape[1], annotated.shape[0])
            with writer.acquire(width=annotated.shape[1], height=annotated.shape[0]) as slot:
                slot.array[:] = annotated
            print(f"frame {frame.sequence}: {len(boxes)} boxes", flush=True)
            done += 1
            boxes_total += len(boxes)
            if done == args.max_frames:
                break
        if writer is not None:
            writer.close()
    print(f"detector.py: frames={done} boxes={boxes_total} skipped={reader.skipped}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
