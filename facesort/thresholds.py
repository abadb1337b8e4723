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
    # Average-linkage distance that splits an HDBSCAN group again (cluster.py).
    cluster: float
    source: str


# sc_dlib and sc_faceres: measured on ../shared/data (bench/verify.py and
# bench/cluster_quality.py). verify is the 10-fold LFW threshold; recognize sits
# at or just below the distance where 0.001% of all ~20M different-identity LFW
# photo pairs fall, which in the open-set simulation (100 named people, four
# strangers per named face) kept wrong automatic names at 0.2%; cluster is the
# refinement distance giving BCubed precision >= 0.99 on LFW.
_SC_DLIB = PackThresholds(
    verify=0.4515, recognize=0.30, margin=0.06, cluster=0.32,
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

_SFACE = PackThresholds(
    verify=1.1729, recognize=1.0, margin=0.2, cluster=1.0,
    source="PROVISIONAL measured on LFW",
)
KNOWN: dict[str, PackThresholds] = {
    "yunet_sface": _SFACE,
    "sc_sface": _SFACE,
    "sc_mfn_tf": _SFACE,
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
