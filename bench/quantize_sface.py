"""An int8 SFace, for measuring: writes a pack folder (the built-in YuNet and
SFace quantized to int8 by onnxruntime) to try with bench/verify.py and
bench/scan.py. facesort does not ship it: its embeddings differ from the
float32 SFace's, so every threshold of the pack would have to be measured
again, and a new model file would change the built-in pack's fingerprint.

SFace's PRelus are split first (facesort/engine/cpugraph.py) so that the quantizer
covers the whole network; it is then quantized statically (QDQ, int8 weights
per channel, uint8 activations), calibrated on aligned faces of LFW people
who appear in no verification pair, activation ranges at the 99.999th
percentile (the default) or min-max.

Measured here (2 cores; 100 faces, percentile): one thread 7.2 ms a face
against 14.4 for the float32 SFace; bench/scan.py 27.3 photos a second
against 17.6, the same 303 faces; LFW 10-fold (bench/verify.py) 99.47% ±
0.55 against 99.52% ± 0.61, best threshold 1.182 (1.183), strict threshold
1.029 (1.034).

    python bench/quantize_sface.py OUT_FOLDER [--faces 100] [--method percentile|minmax]
    python bench/verify.py --pack OUT_FOLDER
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import tempfile
from pathlib import Path

import onnx
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process

from facesort.scanning import decoding
from facesort.config import resolve_pack
from facesort.engine.cpugraph import split_prelu
from facesort.engine.face_engine import load_engine
from lfw import LFW, PAIRS


def calibration_crops(engine, count: int) -> list:
    """Aligned faces (the one nearest each photo's centre) of LFW people who
    are in no verification pair, so that verify.py measures unseen faces."""
    with open(PAIRS, newline="") as handle:
        paired = {row[key] for row in csv.DictReader(handle, delimiter="\t")
                  for key in ("person_a", "person_b")}
    photos = sorted(p for p in LFW.glob("*/*.jpg") if p.parent.name not in paired)
    random.Random(1).shuffle(photos)
    crops = []
    for path in photos:
        photo = decoding.read_and_decode(path, engine.det_size)
        height, width = photo.pixels.shape[:2]
        faces = engine.detect(photo.pixels)
        if faces:
            face = min(faces, key=lambda d: (d.box[0] + d.box[2] / 2 - width / 2) ** 2
                       + (d.box[1] + d.box[3] / 2 - height / 2) ** 2)
            crops.append(engine.align(photo.pixels, face.landmarks))
        if len(crops) == count:
            break
    return crops


class Faces(CalibrationDataReader):
    def __init__(self, recognizer, crops):
        import cv2

        # What insightface's ArcFaceONNX.get_feat feeds the network.
        self._blobs = iter([
            cv2.dnn.blobFromImages([crop], 1.0 / recognizer.input_std, recognizer.input_size,
                                   (recognizer.input_mean,) * 3, swapRB=True)
            for crop in crops])
        self._input = recognizer.input_name

    def get_next(self):
        blob = next(self._blobs, None)
        return None if blob is None else {self._input: blob}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the pack folder to write (its name is the pack's)")
    parser.add_argument("--faces", type=int, default=100,
                        help="calibration faces (percentile keeps them all in memory)")
    parser.add_argument("--method", choices=("percentile", "minmax"), default="percentile")
    args = parser.parse_args()
    pack = resolve_pack("yunet_sface")
    engine = load_engine(pack)
    recognizer = engine._recognizer
    crops = calibration_crops(engine, args.faces)
    model = onnx.load(recognizer.model_file)
    split_prelu(model)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        split, prepared = Path(tmp) / "split.onnx", Path(tmp) / "prepared.onnx"
        onnx.save(model, split)
        # Folds the BatchNormalizations into the convolutions before quantizing.
        quant_pre_process(str(split), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared), str(args.out / "sface_2021dec_int8.onnx"), Faces(recognizer, crops),
            quant_format=QuantFormat.QDQ, per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method={"percentile": CalibrationMethod.Percentile,
                              "minmax": CalibrationMethod.MinMax}[args.method])
    detector = next(pack.path.glob("face_detection_yunet*.onnx"))
    shutil.copy(detector, args.out / detector.name)
    print(f"wrote {args.out}: {detector.name} and sface_2021dec_int8.onnx "
          f"({len(crops)} calibration faces, {args.method})")


if __name__ == "__main__":
    main()
