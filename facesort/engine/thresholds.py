"""Distance thresholds, per model pack.

Distances are Euclidean between L2-normalised embeddings (0 = identical,
2 = opposite). Each pack spreads faces differently, so every threshold belongs
to one pack's name and is never used for another; a pack not listed here gets
no automatic names and no verification until thresholds are given.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PackThresholds:
    # One-to-one verification: the same person at or below this distance.
    verify: float
    # One-to-K naming: a face gets a named person's name when it is within this
    # distance of the person's centroid and at least ``margin`` closer to it
    # than to any other person's. Stricter than ``verify``, because each of K
    # people (and every stranger in the library) is a chance of a false match.
    recognize: float
    margin: float
    # Average-linkage distance that splits an HDBSCAN group again (people/grouping.py).
    cluster: float
    source: str
    # How far an unnamed group may be from a person to be offered as them
    # ("Also Alice?"); None: naming.suggestion_distance's rule.
    suggest: float | None = None
    # One-to-K naming of a face whose age in the photo is known to be under
    # 13 (people/ages.py): children are nearer one another than adults are,
    # so a stricter distance; None: ``recognize``. Measured on FG-NET (below).
    child_recognize: float | None = None


# sc_dlib and sc_faceres: measured on ../shared/data (bench/verify.py and
# bench/cluster_quality.py). verify is the 10-fold LFW threshold; recognize sits
# at or just below the distance where 0.001% of all ~20M different-identity LFW
# photo pairs fall, which in the open-set simulation (100 named people, four
# strangers per named face) kept wrong automatic names at 0.2%; cluster is the
# refinement distance giving BCubed precision >= 0.99 on LFW.
# child_recognize, for faces known to be of a child under 13 (people/ages.py):
# measured on the shared FG-NET photos by bench/child_thresholds.py, 225 photos
# of 37 children. A face against the centroid of each other child's photos:
# 0.1% of those fall below it; the LFW recognize distance let 2.8-3.0% of them
# in (the same child kept: 53-69% at child_recognize, 81-87% at recognize).
# Pairs of photos of two different children: 0.1% below 0.896 (yunet_sface),
# 0.903 (sc_sface), 0.280 (sc_dlib), while the median same-child pair is 0.962,
# 0.944 and 0.319: babies are nearer each other than to themselves years on.
_SC_DLIB = PackThresholds(
    verify=0.4515, recognize=0.30, margin=0.06, cluster=0.32, child_recognize=0.25,
    source="measured on LFW (shared data): 10-fold 98.99%, strict FAR 0.001% at 0.313",
)
_SC_FACERES = PackThresholds(
    verify=0.9926, recognize=0.76, margin=0.15, cluster=0.80,
    source="measured on LFW (shared data): 10-fold 98.00%, strict FAR 0.001% at 0.780",
)
# InsightFace's ArcFace packs cannot be run here. verify: InsightFace's NIST
# FRVT threshold for its ArcFace models, 1.28476 in squared L2, i.e. 1.1335.
# recognize and cluster: Immich's defaults for buffalo_l (facialRecognition
# maxDistance 0.5 as cosine distance, i.e. sqrt(2 * 0.5) = 1.0). margin: the
# 0.2 x recognize that the measured packs use, not measured for ArcFace.
_ARCFACE = PackThresholds(
    verify=1.1335, recognize=1.0, margin=0.2, cluster=1.0,
    source="published: InsightFace FRVT threshold; Immich defaults for buffalo_l",
)

# SFace packs (the built-in yunet_sface, and sc_sface: the same SFace behind
# SCRFD-500MF), measured the same way on ../shared/data. Their scale is
# ArcFace-like: the same person typically at cosine 0.68, others at 0.09.
# recognize 1.0 sits just below the strict distance (1.034 and 1.023) with the
# usual margin of 0.2 x recognize; in the simulated user it gave 993 of 1003
# (yunet_sface) and 997 of 1004 (sc_sface) new faces of named people the right
# name and no wrong name at all, none to the 1,053 strangers. cluster 1.0:
# BCubed P 0.997 / R 0.949 / F 0.972 (yunet_sface), P 0.998 / R 0.962 / F 0.979
# (sc_sface); precision falls to 0.991 at 1.10 and 0.94 at 1.15, so 1.0 keeps a
# margin from that cliff. suggest 1.0: naming the LFW album
# (bench/naming_effort.py), all 8 groups offered beyond 1.0 (1.008 to 1.045)
# were someone else; the right offers seen were at 0.91 and 0.97.
_YUNET_SFACE = PackThresholds(
    verify=1.1827, recognize=1.0, margin=0.2, cluster=1.0, suggest=1.0, child_recognize=0.87,
    source="measured on LFW (shared data): 10-fold 99.52%, strict FAR 0.001% at 1.034",
)
_SC_SFACE = PackThresholds(
    verify=1.1729, recognize=1.0, margin=0.2, cluster=1.0, suggest=1.0, child_recognize=0.88,
    source="measured on LFW (shared data): 10-fold 99.57%, strict FAR 0.001% at 1.023",
)
# sc_mfn_tf (MobileFaceNet; for benchmarks only, never a default: its licence
# is unclear), measured the same way. recognize 0.90 at its strict distance
# (0.900): 988 of 1002 right, 1 name in 989 wrong (a stranger). cluster 0.90:
# BCubed P 0.994 / R 0.957 / F 0.975; precision falls to 0.986 at 0.95.
_SC_MFN_TF = PackThresholds(
    verify=1.1326, recognize=0.90, margin=0.18, cluster=0.90,
    source="measured on LFW (shared data): 10-fold 99.61%, strict FAR 0.001% at 0.900",
)

KNOWN: dict[str, PackThresholds] = {
    "yunet_sface": _YUNET_SFACE,
    "sc_sface": _SC_SFACE,
    "sc_mfn_tf": _SC_MFN_TF,
    "sc_dlib": _SC_DLIB,
    "sc_faceres": _SC_FACERES,
    "buffalo_l": _ARCFACE,
    "buffalo_m": _ARCFACE,
    "buffalo_s": _ARCFACE,
    "buffalo_sc": _ARCFACE,
    "antelopev2": _ARCFACE,
}


def thresholds_for(pack_name: str) -> PackThresholds | None:
    return KNOWN.get(pack_name)
