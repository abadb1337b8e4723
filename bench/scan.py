"""Scan speed on large photos per model pack, and what the detector size costs
in faces.

Builds a folder of 3000x2000 JPEGs with LFW faces pasted in, scans it with each
pack (draft-mode decoding, what facesort does) and, for the first pack, with
full decoding (the baseline), in alternating rounds, and prints medians side by
side: photos/s, faces/s, seconds per stage, the ratio of total time to pure
model time (detect + embed; 1.0 would mean the model is all that costs) and the
scan's CPU use (process CPU time over wall time, as a % of the cores this
process may use; with the machine's load average, since its cores may be
shared). The first pack also scans
camera RAW copies of the same photos (the real DNG in ../shared/data/raw with
each JPEG embedded as its preview by exiftool, as a camera embeds its own), so
RAW photos/s stands beside JPEG photos/s. Then
runs each pack's detector on the group photos at several detector sizes and
prints the faces found at each.

With --fr-bin, also runs the face_recognition CLI (`face_recognition --cpus 2`,
installed in its own venv) on the same folder, once, and prints its photos/s
and faces found beside the first pack's, and the ratio. Faces found are also
checked against the pasted ones: how many pasted faces each found, and how
many of its faces lie on none (for face_recognition its detector is run again,
as its CLI calls it, from the venv's Python, outside the timing).

Video clips: the shared real clips (../shared/data/video/asl, --clips of
them) are scanned with each pack in the same rounds, and clips/s is printed
beside photos/s, with the decoded frames per clip and a clip's cost in photos
(seconds per clip / seconds per photo). A one-minute 640x480 clip made of
LFW photos (four people, cached in bench/.cache/minute.mp4) is scanned in the
same rounds: its seconds, its cost in photos, its tracks and its stages.

--intra-threads sets onnxruntime's intra-op threads of the recognizer (and
OpenCV's threads of a YuNet detector) against --workers, facesort's photo-level
read and decode threads, to measure one against the other.

    python bench/scan.py [--photos 60] [--clips 20] [--repeats 3]
                         [--packs yunet_sface,../shared/models/sc_dlib,../shared/models/sc_sface]
                         [--fr-bin /tmp/frvenv/bin/face_recognition] [--intra-threads N] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from facesort.scanning import decoding
from facesort.config import resolve_pack
from facesort.engine.face_engine import _cpu_session, load_engine
from facesort.scanning.scanner import ScanOptions, scan
from facesort.store import Store
from lfw import CACHE, GROUP_EXPECTED, SHARED



def build_photos(folder: Path, count: int, faces_per_photo: int, seed: int = 7) -> dict[str, list]:
    """Write ``count`` 3000x2000 JPEGs, each with ``faces_per_photo`` LFW faces;
    return each photo's pasted (x, y, w, h) boxes by path."""
    rng = random.Random(seed)
    portraits = sorted((SHARED / "data" / "lfw").glob("*/*_0001.jpg"))
    # Smooth random colour: a background with no face in it.
    noise = Image.frombytes("RGB", (30, 20), bytes(rng.randrange(256) for _ in range(30 * 20 * 3)))
    background = noise.resize((3000, 2000), Image.Resampling.BICUBIC)
    pasted: dict[str, list] = {}
    for index in range(count):
        canvas = background.copy()
        path = folder / f"photo_{index:04d}.jpg"
        pasted[str(path)] = []
        for slot in range(faces_per_photo):
            # LFW's face sits in the middle 50% of each 250x250 portrait.
            face = Image.open(rng.choice(portraits)).crop((45, 45, 205, 215))
            side = rng.randint(220, 420)
            face = face.resize((side, round(side * 170 / 160)))
            column_width = 3000 // faces_per_photo
            x = slot * column_width + rng.randint(0, max(0, column_width - side))
            y = rng.randint(100, 2000 - face.height - 100)
            canvas.paste(face, (x, y))
            pasted[str(path)].append((x, y, face.width, face.height))
        canvas.save(path, quality=90)
    return pasted


RAW = SHARED / "data" / "raw" / "canon_eos_6d.dng"
RAW_WIDTH = 1224  # the DNG's own width, which boxes in it are relative to


def build_raws(photos: Path, folder: Path, pasted: dict[str, list]) -> dict[str, list]:
    """A DNG in ``folder`` for each JPEG in ``photos``, with the JPEG as its
    preview; return the pasted boxes by DNG path, in the DNG's pixels."""
    jpegs = sorted(photos.glob("*.jpg"))
    raw = RAW.read_bytes()
    for jpeg in jpegs:
        (folder / f"{jpeg.stem}.dng").write_bytes(raw)
    subprocess.run(["exiftool", "-q", "-overwrite_original", f"-PreviewImage<={photos}/%f.jpg",
                    str(folder)], check=True)
    scale = RAW_WIDTH / Image.open(jpegs[0]).width
    return {str(folder / f"{jpeg.stem}.dng"): [tuple(v * scale for v in box) for box in pasted[str(jpeg)]]
            for jpeg in jpegs}


def _share_inside(box: tuple, outer: tuple) -> float:
    x, y, w, h = box
    ox, oy, ow, oh = outer
    width = max(0.0, min(x + w, ox + ow) - max(x, ox))
    height = max(0.0, min(y + h, oy + oh) - max(y, oy))
    return width * height / (w * h) if w * h else 0.0


def match_pasted(pasted: dict[str, list], found: dict[str, list]) -> tuple[int, int]:
    """(pasted faces found, faces found on no pasted face): a found box counts
    for the pasted face that holds most of it (over half), once each; a pasted
    box holds hair and neck too, so overlap is measured inside it, not as IoU."""
    hits = strays = 0
    for path, boxes in pasted.items():
        taken: set[int] = set()
        for box in found.get(path, []):
            best = max(range(len(boxes)), key=lambda k: _share_inside(box, boxes[k]))
            if _share_inside(box, boxes[best]) > 0.5 and best not in taken:
                taken.add(best)
                hits += 1
            else:
                strays += 1
    return hits, strays


def run_scan(folder: Path, pack, full_decode: bool, workers: int = ScanOptions.workers,
             pasted: dict[str, list] | None = None) -> dict:
    real_decode = decoding.decode
    if full_decode:
        decoding.decode = lambda path, data, long_side: real_decode(path, data, None)
    try:
        with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
            started, cpu_started = time.perf_counter(), time.process_time()
            report = scan(store, [folder], pack, ScanOptions(workers=workers))
            wall = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            found = {photo.path: [face.box for face in photo.faces]
                     for photo in store.export_photos(store.find_pack(pack.name))} if pasted else {}
    finally:
        decoding.decode = real_decode
    stages = report.timings
    model = stages["detect"] + stages["embed"]
    return {
        "wall": wall,
        "photos": report.new,
        "faces": report.faces,
        "photos/s": report.new / wall,
        "faces/s": report.faces / wall,
        **{f"{k} s": v for k, v in stages.items()},
        "total/model": wall / model,
        "CPU %": 100 * cpu / wall / CORES,
        **(dict(zip(("pasted found", "strays"), match_pasted(pasted, found))) if pasted else {}),
    }


CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def set_threads(pack, threads: int) -> None:
    """Rebuild the pack's recognizer session with ``threads`` intra-op threads
    (onnxruntime's default is one per physical core) and set OpenCV's thread
    count, which a YuNet detector runs on."""
    import cv2

    cv2.setNumThreads(threads)
    # load_engine caches by its arguments as given: ask as the scanner does.
    options = ScanOptions()
    engine = load_engine(pack, options.det_size, options.device)
    _cpu_session(engine._recognizer, engine.providers, threads)


def _tree_cpu(root: int) -> dict[int, float]:
    """CPU seconds so far of ``root`` and its descendants, by pid, from /proc."""
    parents, cpu = {}, {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        parents[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return {pid: cpu[pid] for pid in tree if pid in cpu}


def run_face_recognition(binary: str, folder: Path) -> dict:
    """One run of the face_recognition CLI over ``folder``: it prints one line
    per face it found (and one "no_persons_found" line per photo without any).
    Its CPU time is sampled from /proc: its workers are children of a
    multiprocessing forkserver that the CLI never waits for, so getrusage
    does not see them."""
    with tempfile.TemporaryDirectory() as known:
        started = time.perf_counter()
        child = subprocess.Popen([binary, "--cpus", "2", known, str(folder)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen: dict[int, float] = {}
        reader = ThreadPoolExecutor(1).submit(child.communicate)
        while not reader.done():
            seen.update(_tree_cpu(child.pid))
            time.sleep(0.2)
        stdout, stderr = reader.result()
        wall = time.perf_counter() - started
    if child.returncode:
        raise SystemExit(f"{binary} failed ({child.returncode}): {stderr.strip()[-500:]}")
    lines = [line for line in stdout.splitlines() if line.strip()]
    photos = len({line.split(",")[0] for line in lines})
    faces = sum(1 for line in lines if "no_persons_found" not in line)
    return {"wall": wall, "photos": photos, "faces": faces, "photos/s": photos / wall,
            "faces/s": faces / wall, "CPU %": 100 * sum(seen.values()) / wall / CORES}


# face_recognition's CLI shrinks a photo to 1600 px and finds faces with HOG,
# upsampling once (face_encodings' defaults); boxes come back as (x, y, w, h)
# in the photo's own pixels.
FR_LOCATIONS = """
import json, sys
import numpy, PIL.Image, face_recognition
found = {}
for path in sys.argv[1:]:
    image = face_recognition.load_image_file(path)
    scale = 1.0
    if max(image.shape) > 1600:
        small = PIL.Image.fromarray(image)
        small.thumbnail((1600, 1600), PIL.Image.LANCZOS)
        scale = image.shape[1] / small.width
        image = numpy.array(small)
    found[path] = [[left * scale, top * scale, (right - left) * scale, (bottom - top) * scale]
                   for top, right, bottom, left in face_recognition.face_locations(image, 1, "hog")]
print(json.dumps(found))
"""


def face_recognition_boxes(binary: str, paths: list[str]) -> dict[str, list]:
    """face_recognition's face boxes, found in two processes at once."""
    python = str(Path(binary).parent / "python")
    halves = [paths[0::2], paths[1::2]]
    children = [subprocess.Popen([python, "-c", FR_LOCATIONS, *half], stdout=subprocess.PIPE, text=True)
                for half in halves if half]
    found: dict[str, list] = {}
    for child in children:
        stdout, _ = child.communicate()
        if child.returncode:
            raise SystemExit(f"{python} could not find faces with face_recognition ({child.returncode})")
        found.update(json.loads(stdout))
    return found


CLIPS = SHARED / "data" / "video" / "asl"


def build_clips(folder: Path, count: int) -> int:
    """Copy ``count`` of the shared clips into ``folder``; their decoded frames."""
    from facesort.scanning import video

    folder.mkdir()
    frames = 0
    for clip in sorted(CLIPS.glob("*.mkv"))[:count]:
        shutil.copy(clip, folder)
        frames += len(video.sample_times(video.decode_clip(clip, None).info.duration))
    return frames


# The one-minute clip: four people of LFW in three scenes, each face a few
# shared photos in turn (a turn of the head every 3 s), drifting as a hand-held
# phone does; the last person is seen for 3 s only, which must not be lost.
MINUTE_SCENES = (  # (start, end, people)
    (0, 20, ("Colin_Powell",)),
    (20, 40, ("Colin_Powell", "Tony_Blair")),
    (40, 57, ("Junichiro_Koizumi",)),
    (57, 60, ("Jean_Chretien",)),
)
MINUTE_PEOPLE = len({person for *_, people in MINUTE_SCENES for person in people})


def build_minute_clip(path: Path, fps: int = 30) -> Path:
    """A 640x480 one-minute MP4 made of shared LFW photos (cached)."""
    import math

    import cv2
    import numpy as np

    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(19)
    noise = Image.frombytes("RGB", (16, 12), bytes(rng.randrange(256) for _ in range(16 * 12 * 3)))
    background = noise.resize((640, 480), Image.Resampling.BICUBIC)
    lfw = SHARED / "data" / "lfw"
    faces = {person: [Image.open(lfw / person / f"{person}_{n:04d}.jpg").convert("RGB").resize((200, 200))
                      for n in range(1, 8)]
             for *_, people in MINUTE_SCENES for person in people}
    writer = cv2.VideoWriter(str(path) + ".tmp.mp4", cv2.VideoWriter_fourcc(*"mp4v"), fps, (640, 480))
    for index in range(60 * fps):
        t = index / fps
        _, _, people = next(scene for scene in MINUTE_SCENES if scene[0] <= t < scene[1])
        canvas = background.copy()
        for slot, person in enumerate(people):
            photo = faces[person][int(t // 3) % len(faces[person])]
            x = (220 if len(people) == 1 else 60 + 300 * slot) + 40 * math.sin(2 * math.pi * t / 7 + slot)
            y = 140 + 20 * math.sin(2 * math.pi * t / 5 + slot)
            canvas.paste(photo, (round(x), round(y)))
        writer.write(cv2.cvtColor(np.asarray(canvas), cv2.COLOR_RGB2BGR))
    writer.release()
    os.replace(str(path) + ".tmp.mp4", path)
    return path


def run_clip_scan(folder: Path, pack, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
        started = time.perf_counter()
        report = scan(store, [folder], pack, ScanOptions(workers=workers))
        wall = time.perf_counter() - started
    return {"wall": wall, "clips": report.clips.new, "faces": report.clips.faces,
            "clips/s": report.clips.new / wall,
            **{f"{stage} s": report.timings[stage] for stage in ("decode", "detect", "embed")}}


def median_rows(runs: list[dict]) -> dict:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def det_size_sweep(pack, sizes: list[int]) -> None:
    print(f"\n{pack.name}: faces found on the group photos by detector size "
          "(expected in brackets), median ms:")
    names = sorted(GROUP_EXPECTED)
    print(f"{'det-size':>9} " + " ".join(f"{n[:14]:>16}" for n in names) + f" {'total':>7} {'ms/photo':>9}")
    photos = {n: decoding.read_and_decode(SHARED / "data" / "group" / n) for n in names}
    for size in sizes:
        engine = load_engine(pack, size)
        counts, times = [], []
        for name in names:
            pixels = photos[name].pixels
            engine.detect(pixels)  # build this size's session outside the timing
            samples = []
            for _ in range(3):
                started = time.perf_counter()
                found = engine.detect(pixels)
                samples.append(time.perf_counter() - started)
            counts.append(len(found))
            times.append(statistics.median(samples))
        cells = " ".join(f"{c:>12} [{GROUP_EXPECTED[n]:>2}]" for c, n in zip(counts, names))
        print(f"{size:>9} {cells} {sum(counts):>4}/{sum(GROUP_EXPECTED.values())} "
              f"{statistics.mean(times) * 1000:>9.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=60)
    parser.add_argument("--faces", type=int, default=5, help="faces pasted into each photo")
    parser.add_argument("--clips", type=int, default=20, help="shared clips to scan (0: none)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--packs", default=",".join(
        ["yunet_sface", str(SHARED / "models" / "sc_dlib"), str(SHARED / "models" / "sc_sface")]),
        help="comma-separated packs (names or folders); the first also gets the full-decode baseline")
    parser.add_argument("--det-sizes", default="320,416,480,640,960,1280",
                        help="comma-separated; empty to skip the sweep")
    parser.add_argument("--fr-bin", help="the face_recognition CLI, to compare with")
    parser.add_argument("--intra-threads", type=int,
                        help="onnxruntime intra-op (and OpenCV) threads; default: theirs")
    parser.add_argument("--workers", type=int, default=ScanOptions.workers,
                        help="facesort's read and decode threads")
    args = parser.parse_args()
    packs = [resolve_pack(spec) for spec in args.packs.split(",")]
    scanner_options = ScanOptions()
    for pack in packs:
        # Model loading is not scanning; load_engine caches by its arguments as given.
        load_engine(pack, scanner_options.det_size, scanner_options.device)
        if args.intra_threads:
            set_threads(pack, args.intra_threads)

    # Three folders: a scan of the photos must not also read the RAWs or the clips.
    with (tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as raw_tmp,
          tempfile.TemporaryDirectory() as clip_tmp):
        folder, raw_folder = Path(tmp), Path(raw_tmp)
        started = time.perf_counter()
        pasted = build_photos(folder, args.photos, args.faces)
        boxes = {**pasted, **build_raws(folder, raw_folder, pasted)}
        print(f"built {args.photos} photos of 3000x2000 with {args.faces} faces pasted in each "
              f"in {time.perf_counter() - started:.1f} s; {args.repeats} alternating rounds, medians; "
              f"{CORES} cores, workers {args.workers}, intra-op threads {args.intra_threads or 'default'}")
        load_before = os.getloadavg()
        columns = [(pack.name, pack, False, folder) for pack in packs] + [
            (f"{packs[0].name} full", packs[0], True, folder),
            (f"{packs[0].name} RAW", packs[0], False, raw_folder)]
        runs: dict[str, list[dict]] = {label: [] for label, *_ in columns}
        clips = Path(clip_tmp) / "clips"
        sampled = build_clips(clips, args.clips) if args.clips else 0
        clip_runs: dict[str, list[dict]] = {pack.name: [] for pack in packs}
        minute = Path(clip_tmp) / "minute"
        minute.mkdir()
        shutil.copy(build_minute_clip(CACHE / "minute.mp4"), minute)
        minute_runs: dict[str, list[dict]] = {pack.name: [] for pack in packs}
        for warm in (folder, raw_folder):  # warm the file cache
            run_scan(warm, packs[0], full_decode=False)
        for _ in range(args.repeats):
            for label, pack, full, photos in columns:
                runs[label].append(run_scan(photos, pack, full, args.workers, boxes))
            for pack in packs if args.clips else ():
                clip_runs[pack.name].append(run_clip_scan(clips, pack, args.workers))
                minute_runs[pack.name].append(run_clip_scan(minute, pack, args.workers))
        load_during = os.getloadavg()
        fr = run_face_recognition(args.fr_bin, folder) if args.fr_bin else None
        if fr:
            fr["pasted found"], fr["strays"] = match_pasted(
                pasted, face_recognition_boxes(args.fr_bin, sorted(pasted)))
    print("load average (1, 5, 15 min) before the scans: " + " ".join(f"{v:.2f}" for v in load_before)
          + "; after: " + " ".join(f"{v:.2f}" for v in load_during))
    medians = {label: median_rows(r) for label, r in runs.items()}
    print("\n" + f"{'':<14}" + "".join(f"{label:>20}" for label in medians))
    for key in medians[packs[0].name]:
        print(f"{key:<14}" + "".join(f"{m[key]:>20.2f}" for m in medians.values()))
    first = packs[0].name
    if args.clips:
        print(f"\nphotos (3000x2000, {args.faces} faces) and clips (640x480, one person, "
              f"{sampled / args.clips:.1f} decoded frames a clip), medians:")
        print(f"{'':<14}{'photos/s':>10}{'clips/s':>10}{'clip/photo':>12}{'tracks':>8}")
        for pack in packs:
            clip = median_rows(clip_runs[pack.name])
            photos_per_s = medians[pack.name]["photos/s"]
            print(f"{pack.name:<14}{photos_per_s:>10.2f}{clip['clips/s']:>10.2f}"
                  f"{photos_per_s / clip['clips/s']:>12.2f}{clip['faces']:>8.0f}")
        print(f"\nthe one-minute clip ({MINUTE_PEOPLE} people, 60 frames decoded, searched while the "
              "scene changes), medians; decode runs on its own thread, beside detect and embed:")
        print(f"{'':<14}{'seconds':>10}{'in photos':>10}{'tracks':>8}{'decode s':>10}{'detect s':>10}"
              f"{'embed s':>10}")
        for pack in packs:
            one = median_rows(minute_runs[pack.name])
            print(f"{pack.name:<14}{one['wall']:>10.2f}{one['wall'] * medians[pack.name]['photos/s']:>10.2f}"
                  f"{one['faces']:>8.0f}"
                  + "".join(f"{one[stage + ' s']:>10.2f}" for stage in ("decode", "detect", "embed")))
    print(f"\nfull-decode baseline wall / facesort wall ({first}): "
          f"{medians[first + ' full']['wall'] / medians[first]['wall']:.2f}x")
    print(f"RAW photos/s / JPEG photos/s ({first}): "
          f"{medians[first + ' RAW']['photos/s'] / medians[first]['photos/s']:.2f}x")
    if fr:
        ours = medians[first]
        print(f"\n{'':<14}{first:>20}{'face_recognition':>20}")
        for key in ("wall", "photos", "faces", "pasted found", "strays", "photos/s", "faces/s", "CPU %"):
            print(f"{key:<14}{ours[key]:>20.2f}{fr[key]:>20.2f}")
        print(f"facesort ({first}) photos/s / face_recognition --cpus 2 photos/s: "
              f"{ours['photos/s'] / fr['photos/s']:.1f}x; load average after it: "
              + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    sizes = [int(s) for s in args.det_sizes.split(",") if s]
    for pack in packs:
        if sizes:
            det_size_sweep(pack, sizes)


if __name__ == "__main__":
    sys.exit(main())
