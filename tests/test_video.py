"""Video clips: scanned into tracks beside photos, grouped with the photos'
people, found, exported, written to sidecars, and named by who and verify.

The real clips are ../shared/data/video/asl (Intel IoT Devkit sample videos,
CC BY 4.0), labelled by looking at them: "alex" (skull hoodie) signs again,
brother, help, no, student and yes; "bea" (grey T-shirt) bird, milk, please,
sorry and thanks.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import subprocess
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import DATA, lfw_photo
from facesort.config import resolve_pack
from facesort.engine.face_engine import load_engine
from facesort.engine.thresholds import thresholds_for
from facesort.scanning import clip_time, tracks, video
from facesort.scanning.scanner import scan
from facesort.store import Store
from facesort.store.migrations import MIGRATIONS, migrate

ASL = DATA / "video" / "asl"
ALEX = ("again", "brother", "help")
BEA = ("bird", "milk")


def write_clip(path: Path, frames: list[np.ndarray], fps: int = 2, rotation: int | None = None) -> Path:
    """An MP4 of RGB frames; ``rotation`` is the tag a phone writes (the
    degrees a player turns the stored frames clockwise)."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    if rotation is not None:
        subprocess.run(["exiftool", "-q", "-overwrite_original", f"-Rotation={rotation}", str(path)],
                       check=True)
    return path


@pytest.fixture(scope="module")
def clip_template(tmp_path_factory) -> tuple[Path, Path]:
    """Five real clips of two people and a photo of one of them (a frame of
    another of his clips), scanned once for the module."""
    from conftest import DLIB_PACK

    root = tmp_path_factory.mktemp("clips")
    folder = root / "media"
    folder.mkdir()
    for name in ALEX + BEA:
        shutil.copy(ASL / f"{name}.mkv", folder)
    frame = video.frame_at(ASL / "yes.mkv", 1.0, None)
    Image.fromarray(frame.pixels).save(folder / "alex.jpg", quality=92)
    with Store(root / "template.db") as store:
        report = scan(store, [folder], resolve_pack(str(DLIB_PACK)))
    assert report.clips.new == 5 and report.new == 1
    return root / "template.db", folder


@pytest.fixture
def media(clip_template, db_path, tmp_path) -> Path:
    """The scanned clips and photo, in a folder and library of the test's own."""
    template, folder = clip_template
    own = tmp_path / "media"
    shutil.copytree(folder, own)
    shutil.copy(template, db_path)
    with sqlite3.connect(db_path) as db:
        db.execute("UPDATE photos SET path = ? || substr(path, ?)", (str(own), len(str(folder)) + 1))
    return own


def exported(cli) -> dict[str, dict]:
    result = cli("export")
    assert result.exit_code == 0, result.output
    return {Path(record["path"]).stem: record for record in map(json.loads, result.stdout.splitlines())}


def found(cli, *args) -> set[str]:
    result = cli("find", *args)
    assert result.exit_code == 0, result.output
    return {Path(line).name for line in result.stdout.splitlines()}


def test_sampling_is_a_frame_a_second_and_capped_per_clip():
    assert video.sample_times(4.0) == [0.5, 1.5, 2.5, 3.5]
    hour = video.sample_times(3600)
    assert len(hour) == video.MAX_SAMPLES and hour[0] == 30 and hour[-1] == 3570
    assert video.sample_times(0.2) == [0.1]


def _scene(person: str, x: int, background: int = 90, number: int = 1) -> np.ndarray:
    """A 640x480 frame with an LFW photo of ``person`` at ``x``."""
    frame = np.full((480, 640, 3), background, np.uint8)
    frame[120:370, x:x + 250] = np.asarray(Image.open(lfw_photo(person, number)).convert("RGB"))
    return frame


def test_a_steady_face_is_embedded_a_few_times_and_someone_in_its_place_starts_a_track(pack, tmp_path,
                                                                                     monkeypatch):
    frames = [_scene("Colin_Powell", 150 + 10 * i) for i in range(8)]
    frames += [_scene("Tony_Blair", 230 + 10 * i) for i in range(4)]  # in his place, a second on
    clip = video.decode_clip(write_clip(tmp_path / "swap.mp4", frames, fps=1), 640)
    engine = load_engine(pack, 640)
    embedded = []
    real = engine.embed
    monkeypatch.setattr(engine, "embed", lambda crops: embedded.append(len(crops)) or real(crops))
    found = tracks.clip_tracks(engine, clip.frames, 40, thresholds_for(pack.name).verify)
    # Searched at 1.0, a second later while tracks begin (2.0), every 3 s
    # while steady (5.0, 8.0: Tony Blair), a second later (9.0); the frames
    # between are not decoded. Tony Blair's photo holds a second, cut face.
    assert [(len(t.sightings), t.sightings[0].time) for t in found] == [(3, 1.0), (2, 8.0), (2, 8.0)]
    assert sum(embedded) <= 7  # of 7 faces seen: place and look carry some
    assert all(s.embedding is not None for t in found for s in t.best())


def test_someone_who_leaves_and_comes_back_is_one_track_and_two_side_by_side_stay_two(pack, tmp_path):
    engine = load_engine(pack, 640)
    distance = thresholds_for(pack.name).verify
    # Colin Powell for 4 s, Jean Chretien alone for 10 s (Colin's track
    # ends after two samples missed), Colin back in another photo for 6 s;
    # they drift, so every frame differs.
    frames = [_scene("Colin_Powell", 20 + 5 * i) for i in range(4)]
    frames += [_scene("Jean_Chretien", 370 - 5 * i) for i in range(10)]
    frames += [_scene("Colin_Powell", 40 + 5 * i, number=2) for i in range(6)]
    clip = video.decode_clip(write_clip(tmp_path / "back.mp4", frames, fps=1), 640)
    found = tracks.clip_tracks(engine, clip.frames, 40, distance)
    assert [[s.time for s in track.sightings] for track in found] == [[1.0, 2.0, 15.0, 16.0, 19.0],
                                                                      [5.0, 6.0, 9.0, 12.0]]
    colin = found[0]
    # The joined track keeps the best faces of both stretches, with their times.
    assert len(colin.record().track) == tracks.KEEP
    assert {face.time for face in colin.record().track} <= {s.time for s in colin.sightings}
    # Two photos of Colin side by side in every frame: as alike, but seen
    # together, so two people.
    frames = []
    for _ in range(3):
        frame = _scene("Colin_Powell", 20)
        frame[120:370, 370:620] = _scene("Colin_Powell", 370, number=2)[120:370, 370:620]
        frames.append(frame)
    clip = video.decode_clip(write_clip(tmp_path / "twins.mp4", frames, fps=1), 640)
    assert len(tracks.clip_tracks(engine, clip.frames, 40, distance)) == 2


def test_frames_are_searched_while_the_scene_changes_and_small_clips_are_searched_small():
    lookout = tracks.Lookout()

    def searched(frames: list[video.Frame], settled: bool = True) -> list[float]:
        times = []
        for frame in frames:
            if lookout.wants(frame):
                times.append(frame.time)
                lookout.settled = settled
        return times

    drifting = [video.Frame(t + 0.5, _scene("Colin_Powell", 200 + 5 * t), 1.0) for t in range(7)]
    assert searched(drifting) == [0.5, 3.5, 6.5]  # steady: every 3 s
    still = [video.Frame(t + 0.5, _scene("Colin_Powell", 230), 1.0) for t in range(7, 12)]
    assert searched(still) == []  # as at 6.5: nothing moved, however long
    cut = [video.Frame(12.5, _scene("Tony_Blair", 300, background=200), 1.0)]
    assert searched(cut, settled=False) == [12.5]  # 3 s after the last frame looked at (9.5)
    moving = [video.Frame(t + 0.5, _scene("Tony_Blair", 300 + 5 * t, background=200), 1.0) for t in (13, 14)]
    assert searched(moving) == [13.5]  # a second on, while a track began; then steady again
    moved = video.Frame(3.5, _scene("Colin_Powell", 240), 1.0)
    assert tracks.detection_side(moved, 40, 640) == 320  # a 40 px face is 20 px there
    full_hd = video.Frame(0.5, np.zeros((360, 640, 3), np.uint8), 3.0)  # 1920x1080 shrunk
    assert tracks.detection_side(full_hd, 40, 640) == 640


def test_a_clip_left_unsearched_halfway_stops_its_decoding(tmp_path):
    frames = [_scene("Colin_Powell", 100 + 10 * i) for i in range(10)]
    clip = video.decode_clip(write_clip(tmp_path / "clip.mp4", frames, fps=1), 640)
    iterator = iter(clip.frames)
    next(iterator)
    time.sleep(0.5)  # the decoder has decoded the next frame and waits to hand it over
    iterator.close()  # as when a scan stops: the thread ends, nothing waits forever
    assert not any(thread.name == "facesort-clip-decode" for thread in threading.enumerate())


def test_someone_taken_on_trust_in_anothers_place_gets_a_track_of_their_own():
    rng = np.random.default_rng(19)
    people = {"alice": np.eye(4, dtype=np.float32)[0], "bob": np.eye(4, dtype=np.float32)[1]}
    crops, who = {}, {}

    def seen(time: float, person: str, look: int) -> tracks.Sighting:
        crop = crops.setdefault(look, rng.integers(0, 255, (112, 112, 3), dtype=np.uint8))
        sighting = tracks.Sighting(time, (100 + 5 * time, 100, 80, 100), [], 0.9, 0.5, crop)
        who[id(sighting)] = person
        return sighting

    def embed(sightings):
        for sighting in sightings:
            sighting.embedding = people[who[id(sighting)]]

    linker = tracks.Linker(0.5, embed)
    # Alice turns her head (each face looks unlike the last: compared);
    # a second on Bob stands in her place: too soon to compare again, he
    # is taken on trust, and stays.
    for sighting in (seen(0.5, "alice", 1), seen(3.5, "alice", 2), seen(4.5, "bob", 3), seen(5.5, "bob", 3)):
        linker.add([sighting])
    found = linker.tracks()
    assert [[who[id(s)] for s in t.sightings] for t in found] == [["alice", "alice"], ["bob", "bob"]]


def test_each_clip_is_one_face_with_its_time_and_best_faces(cli, media):
    records = exported(cli)
    for name in ALEX + BEA:
        record = records[name]
        assert record["media"] == "video" and 1.5 < record["duration"] < 10
        [face] = record["faces"]  # one person seen throughout: one track, one face
        assert 0 < face["time"] < record["duration"]
        qualities = [kept["quality"] for kept in face["track"]]
        assert 1 <= len(qualities) <= 3 and qualities == sorted(qualities, reverse=True)
        assert face["track"][0]["time"] == face["time"]
    assert records["alex"]["media"] == "photo" and records["alex"]["faces"][0]["time"] is None
    rows = list(csv.DictReader(io.StringIO(cli("export", "--format", "csv").stdout)))
    assert any(row["media"] == "video" and float(row["time"]) > 0 for row in rows)
    assert all(row["time"] == "" for row in rows if row["media"] == "photo")


def test_a_persons_clips_join_the_group_of_their_photo(cli, media):
    assert cli("cluster").exit_code == 0
    records = exported(cli)
    group = {name: records[name]["faces"][0]["cluster"] for name in records}
    assert group["alex"] is not None
    assert {group[name] for name in ALEX} == {group["alex"]}
    assert group["bird"] == group["milk"] is not None and group["bird"] != group["alex"]


def test_naming_a_person_in_a_photo_finds_their_clips(cli, media):
    face = exported(cli)["alex"]["faces"][0]["id"]
    assert cli("assign", str(face), "Alex").exit_code == 0
    assert cli("cluster").exit_code == 0
    assert found(cli, "Alex") == {"alex.jpg", "again.mkv", "brother.mkv", "help.mkv"}
    listed = json.loads(cli("find", "Alex", "--json").stdout)
    assert {item["media"] for item in listed} == {"photo", "video"}


def test_naming_a_person_in_one_clip_finds_the_others(cli, media):
    face = exported(cli)["bird"]["faces"][0]["id"]
    assert cli("assign", str(face), "Bea").exit_code == 0
    assert cli("cluster").exit_code == 0
    assert found(cli, "Bea") == {"bird.mkv", "milk.mkv"}


def test_write_puts_the_people_of_a_clip_in_a_sidecar_exiftool_reads(cli, media):
    face = exported(cli)["again"]["faces"][0]["id"]
    assert cli("assign", str(face), "Alex").exit_code == 0
    result = cli("write")
    assert result.exit_code == 0, result.output
    sidecar = media / "again.mkv.xmp"
    assert sidecar.is_file()
    tags = json.loads(subprocess.run(
        ["exiftool", "-json", "-PersonInImage", "-Subject", "-RegionName", str(sidecar)],
        capture_output=True, text=True, check=True).stdout)[0]
    assert tags["PersonInImage"] == "Alex" and tags["Subject"] == "Alex"
    assert "RegionName" not in tags  # a region is of one frame: none for a clip
    assert "0 sidecars created, 0 updated, 1 unchanged" in cli("write").stdout


def test_import_takes_the_names_another_app_wrote_in_a_clips_sidecar(cli, media):
    # digiKam and Lightroom write people as keywords and PersonInImage, no region.
    subprocess.run(["exiftool", "-q", "-PersonInImage=Bea", "-Subject=Bea", "-Subject=garden",
                    str(media / "milk.mkv.xmp")], check=True)
    result = cli("import")
    assert result.exit_code == 0, result.output
    assert found(cli, "Bea") == {"milk.mkv"}
    assert cli("cluster").exit_code == 0
    assert found(cli, "Bea") == {"milk.mkv", "bird.mkv"}  # her other clip joins


def test_who_and_verify_accept_a_clip(cli, media):
    face = exported(cli)["alex"]["faces"][0]["id"]
    assert cli("assign", str(face), "Alex").exit_code == 0
    result = cli("who", str(ASL / "student.mkv"), "--json")
    assert result.exit_code == 0, result.output
    [clip] = json.loads(result.stdout)
    assert clip["faces"][0]["person"] == "Alex" and clip["faces"][0]["time"] > 0
    result = cli("verify", str(media / "alex.jpg"), str(ASL / "no.mkv"), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["time_b"] > 0


def test_choosing_a_face_of_a_clip_says_they_are_numbered_by_appearance(cli, tmp_path):
    frames = []
    for _ in range(3):
        frame = _scene("Colin_Powell", 20)
        frame[120:370, 370:620] = np.asarray(Image.open(lfw_photo("Tony_Blair", 2)).convert("RGB"))
        frames.append(frame)
    clip = write_clip(tmp_path / "two.mp4", frames, fps=1)
    result = cli("verify", str(clip), str(lfw_photo("Colin_Powell")))
    assert result.exit_code != 0
    assert "2 faces found; choose one with --face-a N (1 = the first to appear)" in result.output
    result = cli("verify", str(clip), str(lfw_photo("Colin_Powell")), "--face-a", "3")
    assert "--face-a 3: the clip has 2 faces" in result.output


def test_a_contact_sheet_cuts_a_clips_face_from_its_frame_and_labels_it(cli, media, tmp_path):
    from facesort.search import sheets

    records = exported(cli)
    face = records["help"]["faces"][0]
    assert cli("assign", str(face["id"]), "Alex").exit_code == 0
    faces = [f for f in Store(media.parent / "library.db").faces_of_person(1, 1)]
    [clip_face] = faces
    assert clip_face.time == face["time"]
    thumb = sheets.face_thumbnails(faces)[0]
    assert np.asarray(thumb).std() > 20  # a face, not the grey tile of a missing photo
    assert sheets.clip_caption(clip_face) == "help.mkv 0:00"
    sheet = tmp_path / "alex.png"
    assert cli("show", "Alex", "-o", str(sheet)).exit_code == 0
    assert Image.open(sheet).height == sheets.LABEL_HEIGHT + sheets.THUMB + 2 * sheets.LABEL_HEIGHT


def test_show_json_gives_a_clips_face_its_time(cli, media):
    face = exported(cli)["again"]["faces"][0]
    assert cli("assign", str(face["id"]), "Alex").exit_code == 0
    result = cli("show", "Alex", "--json")
    assert result.exit_code == 0, result.output
    [listed] = json.loads(result.stdout)
    assert listed["time"] == face["time"] > 0  # its box is in the frame at that time


def test_the_rotation_a_phone_records_is_applied(store, pack, tmp_path):
    portrait = np.asarray(Image.open(lfw_photo("Colin_Powell")).convert("RGB"))[25:225]  # 250 x 200
    stored = [np.ascontiguousarray(np.rot90(portrait))] * 4  # held sideways, as a phone stores it
    folder = tmp_path / "clips"
    folder.mkdir()
    write_clip(folder / "tagged.mp4", stored, rotation=90)
    write_clip(folder / "untagged.mp4", stored)
    scan(store, [folder], pack)
    records = {Path(p.path).name: p for p in store.export_photos(1)}
    tagged, untagged = records["tagged.mp4"], records["untagged.mp4"]
    assert (tagged.width, tagged.height) == (250, 200)  # displayed upright
    assert len(tagged.faces) == 1 and not untagged.faces  # a sideways face is not found


def test_unchanged_touched_and_moved_clips_are_not_decoded_again(cli, media, monkeypatch):
    decoded = []
    real = video.decode_clip
    monkeypatch.setattr(video, "decode_clip", lambda *a: decoded.append(a) or real(*a))
    (media / "again.mkv").rename(media / "again-moved.mkv")
    (media / "bird.mkv").touch()
    result = cli("scan", str(media), "--json")
    assert result.exit_code == 0, result.output
    clips = json.loads(result.stdout)["clips"]
    assert (clips["moved"], clips["unchanged"], clips["new"], clips["changed"]) == (1, 4, 0, 0)
    assert decoded == []
    assert exported(cli)["again-moved"]["faces"]


def test_no_videos_skips_clips_and_the_summary_counts_them_apart(cli, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(ASL / "again.mkv", folder)
    shutil.copy(lfw_photo("Colin_Powell"), folder)
    result = cli("scan", str(folder), "--no-videos")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("1 photo: 1 new") and "clip" not in result.stdout
    result = cli("scan", str(folder))
    assert result.exit_code == 0, result.output
    assert "1 photo: 0 new, 0 changed, 1 unchanged" in result.stdout
    assert "1 clip: 1 new" in result.stdout and "1 face found" in result.stdout


def test_a_damaged_clip_is_one_line_and_the_scan_goes_on(cli, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(2000))
    shutil.copy(lfw_photo("Colin_Powell"), folder)
    result = cli("scan", str(folder), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["clips"]["failed"] == 1 and report["new"] == 1
    assert "broken.mp4" in result.stderr
    assert "broken.mp4" in cli("status", "--errors").stdout


def test_status_counts_clips_and_their_faces_apart_from_photos(cli, media):
    (media / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(2000))
    assert cli("scan", str(media)).exit_code == 1  # the broken clip
    data = json.loads(cli("status", "--json").stdout)
    assert (data["photos"], data["failed"], data["faces"]) == (1, 0, 6)
    assert (data["clips"], data["failed_clips"], data["clip_faces"]) == (6, 1, 5)
    text = cli("status").stdout
    assert "Photos    1 (0 failed)" in text
    assert "Clips     6 (1 failed), 5 faces (one for each person's stretch of a clip)" in text


def test_a_library_from_before_clips_is_upgraded_and_scans_them(db_path, pack, tmp_path):
    db = sqlite3.connect(db_path, isolation_level=None)
    migrate(db, [m for m in MIGRATIONS if m[0] < "0013"])
    db.execute("INSERT INTO photos (path, size, mtime_ns, status, scanned_at)"
               " VALUES ('/old.jpg', 1, 1, 'failed', 'then')")
    db.close()
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(ASL / "milk.mkv", folder)
    with Store(db_path) as store:
        assert store.db.execute("SELECT media FROM photos").fetchone() == ("photo",)
        assert scan(store, [folder], pack).clips.faces == 1
        [record] = [p for p in store.export_photos(1) if p.media == "video"]
        assert record.faces[0].track


def _set_mvhd_time(clip: Path, moment: str) -> Path:
    """Put ``moment`` (UTC) in the clip's mvhd creation time, as a camera
    does (cv2.VideoWriter leaves 0, "unknown")."""
    data = bytearray(clip.read_bytes())
    at = data.index(b"mvhd") + 8  # past the type, version and flags
    seconds = (datetime.fromisoformat(moment) - datetime(1904, 1, 1, tzinfo=timezone.utc)).total_seconds()
    data[at:at + 4] = int(seconds).to_bytes(4, "big")
    clip.write_bytes(bytes(data))
    return clip


def _set_apple_date(clip: Path, moment: str) -> Path:
    """Write the creation date an iPhone writes (local time and offset)."""
    subprocess.run(["exiftool", "-q", "-overwrite_original", f"-Keys:CreationDate={moment}", str(clip)],
                   check=True)
    return clip


def _ebml(element: int, body: bytes) -> bytes:
    ident = element.to_bytes((element.bit_length() + 7) // 8, "big")
    return ident + (0x01 << 56 | len(body)).to_bytes(8, "big") + body  # an 8-byte size


def test_a_clips_capture_time_comes_from_its_container(tmp_path):
    clip = write_clip(tmp_path / "a.mp4", [_scene("Colin_Powell", 20)] * 2)
    assert clip_time.creation_time(clip) is None  # mvhd says 0: unknown
    _set_mvhd_time(clip, "2021-03-04T05:06:07+00:00")
    assert clip_time.creation_time(clip) == "2021-03-04T05:06:07+00:00"  # UTC
    _set_apple_date(clip, "2019-07-14 18:30:05+02:00")
    assert clip_time.creation_time(clip) == "2019-07-14T18:30:05+02:00"  # a phone's local time first
    # Matroska's DateUTC: nanoseconds since 2001-01-01 UTC
    nanoseconds = int((datetime(2018, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
                       - datetime(2001, 1, 1, tzinfo=timezone.utc)).total_seconds()) * 10**9
    info = _ebml(0x1549A966, _ebml(0x2AD7B1, (10**6).to_bytes(3, "big"))
                 + _ebml(0x4461, nanoseconds.to_bytes(8, "big")))
    segment = bytes.fromhex("18538067") + b"\x01\xff\xff\xff\xff\xff\xff\xff" + info  # unknown size
    mkv = tmp_path / "a.mkv"
    mkv.write_bytes(_ebml(0x1A45DFA3, _ebml(0x4282, b"matroska")) + segment)
    assert clip_time.creation_time(mkv) == "2018-05-06T07:08:09+00:00"
    assert clip_time.creation_time(ASL / "again.mkv") is None  # the shared clips carry no date


def test_a_damaged_or_truncated_container_gives_no_time_and_no_error(tmp_path):
    clip = _set_mvhd_time(write_clip(tmp_path / "a.mp4", [_scene("Colin_Powell", 20)] * 2),
                          "2021-03-04T05:06:07+00:00")
    data = clip.read_bytes()
    moov = data.index(b"moov") - 4
    for cut in (moov + 6, moov + 20, data.index(b"mvhd") + 6):
        (tmp_path / "cut.mp4").write_bytes(data[:cut])
        assert clip_time.creation_time(tmp_path / "cut.mp4") is None
    damaged = bytearray(data)
    damaged[moov:moov + 4] = (2**32 - 1).to_bytes(4, "big")  # moov claims more than the file has
    (tmp_path / "damaged.mp4").write_bytes(bytes(damaged))
    assert clip_time.creation_time(tmp_path / "damaged.mp4") is None
    (tmp_path / "ebml.mkv").write_bytes(bytes.fromhex("1a45dfa3") + b"\x00\x00")
    assert clip_time.creation_time(tmp_path / "ebml.mkv") is None


def test_find_year_and_export_go_by_the_time_a_clip_was_shot(cli, tmp_path):
    folder = tmp_path / "clips"
    folder.mkdir()
    frames = [_scene("Colin_Powell", 20)] * 4
    _set_apple_date(write_clip(folder / "phone.mp4", frames), "2019-07-14 18:30:05+02:00")
    _set_mvhd_time(write_clip(folder / "camera.mp4", frames), "2015-12-31T23:30:00+00:00")
    write_clip(folder / "undated.mp4", frames)
    assert cli("scan", str(folder)).exit_code == 0
    records = exported(cli)
    assert records["phone"]["taken_at"] == "2019-07-14T18:30:05+02:00"
    assert records["camera"]["taken_at"] == "2015-12-31T23:30:00+00:00"
    assert records["undated"]["taken_at"] is None
    for name in records:
        assert cli("assign", str(records[name]["faces"][0]["id"]), "Colin").exit_code == 0
    assert found(cli, "Colin", "--year", "2019") == {"phone.mp4"}
    assert found(cli, "Colin", "--year", "2015") == {"camera.mp4"}
    this_year = str(datetime.fromtimestamp((folder / "undated.mp4").stat().st_mtime).year)
    assert found(cli, "Colin", "--year", this_year) == {"undated.mp4"}  # by the file's time, as before
