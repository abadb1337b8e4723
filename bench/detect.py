"""Face detectors side by side: faces found, extra detections, ms per photo.

Runs each pack's detector at the same input sizes on the shared group photos
(known face counts) and on a sample of LFW photos (one labelled face in the
middle of each 250x250 photo). A detection is *agreed* when the other detector
has a box overlapping it (IoU >= 0.4): an extra face that only one detector
sees is most often a false detection. On LFW, "found" means a box whose centre
lies in the middle third of the photo, where the labelled face is.

    python bench/detect.py [--packs yunet_sface,../shared/models/sc_sface]
                           [--sizes 480,640,960] [--lfw 600] [--thresholds 0.5,0.6,0.7,0.8,0.9]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from facesort.scanning import decoding
from facesort.config import resolve_pack
from facesort.engine.face_engine import FaceEngine
from facesort.store.decisions import box_overlap
from lfw import GROUP, GROUP_EXPECTED, LFW, SHARED


def detect_all(engine: FaceEngine, photos: dict[str, np.ndarray]) -> tuple[dict[str, list], float]:
    """Boxes per photo and the median ms per photo."""
    boxes, times = {}, []
    for name, pixels in photos.items():
        started = time.perf_counter()
        found = engine.detect(pixels)
        times.append(time.perf_counter() - started)
        boxes[name] = [d.box for d in found]
    return boxes, statistics.median(times) * 1000


def unagreed(mine: list, theirs: list) -> int:
    return sum(1 for box in mine if all(box_overlap(box, other) < 0.4 for other in theirs))


def centred(boxes: list, side: int = 250) -> bool:
    return any(side / 3 <= x + w / 2 <= 2 * side / 3 and side / 3 <= y + h / 2 <= 2 * side / 3
               for x, y, w, h in boxes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--packs", default=f"yunet_sface,{SHARED / 'models' / 'sc_sface'}")
    parser.add_argument("--sizes", default="480,640")
    parser.add_argument("--lfw", type=int, default=600, help="LFW photos in the sample")
    parser.add_argument("--thresholds", default="",
                        help="also try these score thresholds for the first pack's detector, "
                        "at the last of --sizes, against the second pack")
    args = parser.parse_args()
    packs = [resolve_pack(p) for p in args.packs.split(",")]
    group = {n: decoding.read_and_decode(GROUP / n).pixels for n in sorted(GROUP_EXPECTED)}
    every = sorted(LFW.glob("*/*.jpg"))
    sample = every[:: max(1, len(every) // args.lfw)][: args.lfw]
    lfw = {str(p): decoding.read_and_decode(p).pixels for p in sample}
    names = sorted(GROUP_EXPECTED)
    print(f"group photos: {', '.join(f'{n} ({GROUP_EXPECTED[n]})' for n in names)}; "
          f"LFW sample: {len(lfw)} photos")
    print("found: faces found [expected]; only: detections the other detector does not see; "
          "ms: median per photo")
    print(f"{'pack':<14}{'size':>5}{'thresh':>7} {'group found':>12}{'only':>5}"
          f"{'ms':>7}  {'per photo':<22}{'LFW found':>10}{'extra':>6}{'only':>5}{'ms':>6}")
    for size in [int(s) for s in args.sizes.split(",")]:
        results = {}
        for pack in packs:
            engine = FaceEngine(pack, det_size=size)
            engine.detect(group[names[0]])  # sessions for this size are built outside the timing
            results[pack.name] = (engine.detector_threshold, *detect_all(engine, group),
                                  *detect_all(engine, lfw))
        for pack in packs:
            threshold, g_boxes, g_ms, l_boxes, l_ms = results[pack.name]
            other = next((r for n, r in results.items() if n != pack.name), None)
            g_only = sum(unagreed(g_boxes[n], other[1][n]) for n in names) if other else 0
            l_only = sum(unagreed(l_boxes[n], other[3][n]) for n in lfw) if other else 0
            found = sum(min(len(g_boxes[n]), GROUP_EXPECTED[n]) for n in names)
            per_photo = "/".join(str(len(g_boxes[n])) for n in names)
            l_found = sum(centred(b) for b in l_boxes.values())
            l_extra = sum(len(b) for b in l_boxes.values()) - l_found
            print(f"{pack.name:<14}{size:>5}{threshold:>7.2f} {found:>5}/{sum(GROUP_EXPECTED.values()):<6}"
                  f"{g_only:>5}{g_ms:>7.1f}  {per_photo:<22}{l_found:>10}{l_extra:>6}{l_only:>5}{l_ms:>6.1f}",
                  flush=True)
    if args.thresholds:
        size = int(args.sizes.split(",")[-1])
        reference = FaceEngine(packs[1], det_size=size) if len(packs) > 1 else None
        ref_group = detect_all(reference, group)[0] if reference else None
        ref_lfw = detect_all(reference, lfw)[0] if reference else None
        engine = FaceEngine(packs[0], det_size=size)
        print(f"\n{packs[0].name}: score threshold at {size} px"
              + (f" (only: not seen by {packs[1].name})" if reference else ""))
        for threshold in [float(t) for t in args.thresholds.split(",")]:
            engine.detector_threshold = threshold
            g_boxes, _ = detect_all(engine, group)
            l_boxes, _ = detect_all(engine, lfw)
            l_found = sum(centred(b) for b in l_boxes.values())
            line = (f"  {threshold:.2f}: group " + "/".join(str(len(g_boxes[n])) for n in names)
                    + "; LFW found " + str(l_found)
                    + f", extra {sum(len(b) for b in l_boxes.values()) - l_found}")
            if reference:
                line += (f"; only: group {sum(unagreed(g_boxes[n], ref_group[n]) for n in names)}, "
                         f"LFW {sum(unagreed(l_boxes[n], ref_lfw[n]) for n in lfw)}")
            print(line, flush=True)


if __name__ == "__main__":
    main()
