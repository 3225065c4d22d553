#!/usr/bin/python3
"""Show the newest frame of a segment in a window (q or Esc quits).

    examples/python/display.py cam0

The frame is shown straight from its slot (to_bgr() converts only formats
that are not BGR already); the lease is held while it is drawn.
"""

import argparse
import sys

import cv2

import framebus


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="segment name")
    parser.add_argument("--wait", type=float, default=5.0, help="seconds to wait for the writer")
    parser.add_argument("--max-frames", type=int, default=0, help="stop after N frames")
    args = parser.parse_args()

    shown = 0
    with framebus.Reader(args.name, wait=args.wait, follow=True) as reader:
        for frame in reader:
            image = frame.array if frame.format == "bgr24" else frame.to_bgr()
            cv2.imshow(f"framebus: {args.name}", image)
            del image
            shown += 1
            key = cv2.waitKey(1) & 0xFF
            if key in (ord("q"), 27) or shown == args.max_frames:
                break
        print(f"display.py: shown={shown} skipped={reader.skipped} copies={reader.copies}",
              flush=True)
    cv2.destroyAllWindows()
    return 0


if __name__ == "__main__":
    sys.exit(main())
