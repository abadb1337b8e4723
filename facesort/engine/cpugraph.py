"""Recognizer graphs rewritten to run faster on onnxruntime's CPU provider,
computing the same function.

onnxruntime runs convolutions on the CPU in a blocked channel layout (NCHWc)
and has no such kernel for PRelu: every PRelu after a convolution costs a
conversion out of that layout and back, and its own kernel is slow. SFace has
27 of them, which took over half of its time (bench/scan.py). Written as

    PRelu(x) = a * x + (1 - a) * Relu(x)

with the two per-channel scalings as 1x1 depthwise convolutions, everything
stays in the blocked layout: onnxruntime folds the Add into one of those
convolutions and, where no slope exceeds 1 (25 of SFace's 27), the Relu into
the other. The embeddings agree with the original graph's to about 1e-6;
SFace runs twice as fast (one thread: 31 ms a face before, 14 after). The
rewritten graph is also one onnxruntime's int8 quantizer can quantize whole
(bench/quantize_sface.py).
"""

from __future__ import annotations

import numpy as np


def split_prelu(model) -> int:
    """Rewrite, in place, every PRelu of ``model`` (an onnx ModelProto) whose
    input is 4-D (N, C, H, W) and whose slope is a constant per channel, shape
    (C, 1, 1) or (1, C, 1, 1); returns how many were rewritten."""
    from onnx import helper, numpy_helper, shape_inference

    graph = model.graph
    slopes = {t.name: t for t in graph.initializer}
    candidates = {n.output[0] for n in graph.node
                  if n.op_type == "PRelu" and _per_channel(slopes.get(n.input[1]))}
    if not candidates:
        return 0
    # A convolution's channels are axis 1, the slope's axis only on a 4-D input.
    inferred = shape_inference.infer_shapes(model).graph
    ranks = {v.name: len(v.type.tensor_type.shape.dim)
             for v in (*inferred.value_info, *inferred.input) if v.type.tensor_type.HasField("shape")}
    nodes, slopes_used, rewritten = [], set(), 0
    for node in graph.node:
        if node.output[0] not in candidates or ranks.get(node.input[0]) != 4:
            nodes.append(node)
            continue
        slope = slopes[node.input[1]]
        a = numpy_helper.to_array(slope).astype(np.float32).reshape(-1)
        x, y, tag = node.input[0], node.output[0], f"{node.name or node.output[0]}_split"

        def scaled(source: str, scale: np.ndarray, target: str, part: str):
            weight = f"{tag}_{part}_w"
            graph.initializer.append(
                numpy_helper.from_array(scale.reshape(-1, 1, 1, 1).astype(np.float32), weight))
            return helper.make_node("Conv", [source, weight], [target], name=f"{tag}_{part}",
                                    group=len(scale), kernel_shape=[1, 1])

        if a.max() <= 1.0:
            # (1 - a) * Relu(x) = Relu((1 - a) * x) when no slope exceeds 1:
            # the Relu then runs inside the scaling's convolution.
            rest = [scaled(x, 1.0 - a, f"{tag}_bx", "rest"),
                    helper.make_node("Relu", [f"{tag}_bx"], [f"{tag}_rest"], name=f"{tag}_relu")]
        else:
            rest = [helper.make_node("Relu", [x], [f"{tag}_pos"], name=f"{tag}_relu"),
                    scaled(f"{tag}_pos", 1.0 - a, f"{tag}_rest", "rest")]
        nodes += [
            scaled(x, a, f"{tag}_ax", "a"),
            *rest,
            helper.make_node("Add", [f"{tag}_ax", f"{tag}_rest"], [y], name=f"{tag}_add"),
        ]
        slopes_used.add(slope.name)
        rewritten += 1
    if rewritten:
        del graph.node[:]
        graph.node.extend(nodes)
        # onnxruntime warns about initializers no node reads.
        still_read = {name for node in nodes for name in node.input}
        for name in slopes_used - still_read:
            graph.initializer.remove(slopes[name])
    return rewritten


def _per_channel(slope) -> bool:
    dims = tuple(slope.dims) if slope is not None else ()
    return (len(dims) == 3 or (len(dims) == 4 and dims[0] == 1)) and dims[-2:] == (1, 1)
