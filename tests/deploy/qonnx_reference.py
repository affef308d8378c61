#!/usr/bin/env python3
"""A small numpy reference evaluator of the QONNX graphs `nce export --format qonnx` writes.

  qonnx_reference.py check MODEL.onnx [MODEL.onnx ...]
      onnx.checker.check_model on each file, and that every Quant node is in the
      qonnx.custom_op.general domain that the model's opset_import declares.
  qonnx_reference.py run MODEL.onnx IMAGES N C H W LOGITS
      checks MODEL, then evaluates it on N raw 8-bit images (IMAGES: N x C x H x W bytes, the
      layout nce's data sets use) and writes the logits as N x classes little-endian float64.

The evaluator implements, in float64, exactly the ops the exporter emits: Quant per the QONNX
spec (y = (clip(round(x / scale + zeropt), min_int, max_int) - zeropt) * scale; ROUND = half to
even, HALF_UP = half away from zero; scale may be computed in the graph), Conv, Gemm,
BatchNormalization, Relu, Add, Sub, Mul, Pow, MaxPool, AveragePool, GlobalAveragePool, Flatten, and
the head's per-image scale (ReduceMax, GreaterOrEqual, Cast, ReduceSum). Any other op is an error.
Exit status: 0 ok, 1 a check or evaluation failed, 2 usage, 3 onnx or numpy is not installed.
"""
import sys

try:
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError as e:  # the test skips on status 3
    print(f"qonnx_reference.py: {e} (install python3-onnx and python3-numpy)", file=sys.stderr)
    sys.exit(3)

QONNX_DOMAIN = "qonnx.custom_op.general"


def check(path):
    model = onnx.load(path)
    onnx.checker.check_model(model)
    domains = {o.domain: o.version for o in model.opset_import}
    quants = [n for n in model.graph.node if n.op_type == "Quant"]
    for n in quants:
        if n.domain != QONNX_DOMAIN:
            raise ValueError(f"{path}: Quant node {n.name} is in domain '{n.domain}'")
    if quants and QONNX_DOMAIN not in domains:
        raise ValueError(f"{path}: no opset_import for {QONNX_DOMAIN}")
    return model, domains, len(quants)


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def quant(x, scale, zeropt, bitwidth, signed, narrow, rounding_mode):
    bits = int(bitwidth)
    if bits != bitwidth or bits < 1:
        raise ValueError(f"bitwidth {bitwidth} is not a positive integer")
    if signed:
        lo, hi = -(2 ** (bits - 1)) + (1 if narrow else 0), 2 ** (bits - 1) - 1
    else:
        lo, hi = 0, 2 ** bits - 1 - (1 if narrow else 0)
    y = x / scale + zeropt
    y = np.clip(y, lo, hi)
    mode = rounding_mode.decode() if isinstance(rounding_mode, bytes) else rounding_mode
    mode = mode.upper()
    if mode in ("ROUND", "HALF_EVEN"):
        y = np.round(y)
    elif mode == "HALF_UP":  # half away from zero (the spec's table: -2.5 -> -3)
        y = np.sign(y) * np.floor(np.abs(y) + 0.5)
    elif mode == "FLOOR":
        y = np.floor(y)
    elif mode == "CEIL":
        y = np.ceil(y)
    else:
        raise ValueError(f"rounding_mode {mode}")
    return (y - zeropt) * scale


def pad4(x, pads, value):
    if pads is None or not any(pads):
        return x
    t, l, b, r = pads[0], pads[1], pads[2], pads[3]
    return np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), constant_values=value)


def windows(x, k, s):
    """x: N C H W (padded) -> N C Ho Wo k k views."""
    n, c, h, w = x.shape
    ho, wo = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
    out = np.empty((n, c, ho, wo, k[0], k[1]), dtype=x.dtype)
    for ky in range(k[0]):
        for kx in range(k[1]):
            out[..., ky, kx] = x[:, :, ky:ky + s[0] * ho:s[0], kx:kx + s[1] * wo:s[1]]
    return out


def conv(x, w, a):
    k = a.get("kernel_shape", list(w.shape[2:]))
    s = a.get("strides", [1, 1])
    if a.get("group", 1) != 1 or any(d != 1 for d in a.get("dilations", [1, 1])):
        raise ValueError("grouped or dilated Conv")
    xp = pad4(x, a.get("pads"), 0.0)
    win = windows(xp, k, s)  # N C Ho Wo kh kw
    return np.einsum("nchwyx,ocyx->nohw", win, w, optimize=True)


def evaluate(model, images):
    env = {}
    for t in model.graph.initializer:
        v = numpy_helper.to_array(t)
        env[t.name] = v.astype(np.float64) if v.dtype == np.float32 else v
    env[model.graph.input[0].name] = images.astype(np.float64)
    for n in model.graph.node:
        a = attrs(n)
        i = [env[name] for name in n.input]
        op = n.op_type
        if op == "Quant":
            y = quant(i[0], i[1], i[2], float(i[3]), a.get("signed", 1), a.get("narrow", 0),
                      a.get("rounding_mode", "ROUND"))
        elif op == "Conv":
            y = conv(i[0], i[1], a)
            if len(i) > 2:
                y = y + i[2].reshape(1, -1, 1, 1)
        elif op == "BatchNormalization":
            x, g, b, mean, var = i
            sh = (1, -1, 1, 1)
            y = (x - mean.reshape(sh)) / np.sqrt(var.reshape(sh) + a.get("epsilon", 1e-5)) * \
                g.reshape(sh) + b.reshape(sh)
        elif op == "Relu":
            y = np.maximum(i[0], 0.0)
        elif op == "Add":
            y = i[0] + i[1]
        elif op == "Sub":
            y = i[0] - i[1]
        elif op == "Mul":
            y = i[0] * i[1]
        elif op == "Pow":
            y = np.power(i[0], i[1])
        elif op == "GreaterOrEqual":
            y = i[0] >= i[1]
        elif op == "Cast":
            if a["to"] != onnx.TensorProto.FLOAT:
                raise ValueError("Cast to a type other than float")
            y = i[0].astype(np.float64)
        elif op in ("ReduceMax", "ReduceSum"):
            # opset 13: ReduceMax's axes are an attribute, ReduceSum's an optional input
            axes = a.get("axes") if op == "ReduceMax" else (i[1] if len(i) > 1 else None)
            axes = None if axes is None else tuple(int(v) for v in np.asarray(axes).ravel())
            f = np.max if op == "ReduceMax" else np.sum
            y = f(i[0], axis=axes, keepdims=bool(a.get("keepdims", 1)))
        elif op == "MaxPool":
            y = windows(pad4(i[0], a.get("pads"), -np.inf), a["kernel_shape"],
                        a.get("strides", [1, 1])).max(axis=(4, 5))
        elif op == "AveragePool":
            if any(a.get("pads", [0])):
                raise ValueError("padded AveragePool")
            y = windows(i[0], a["kernel_shape"], a.get("strides", [1, 1])).mean(axis=(4, 5))
        elif op == "GlobalAveragePool":
            y = i[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Flatten":
            if a.get("axis", 1) != 1:
                raise ValueError("Flatten axis")
            y = i[0].reshape(i[0].shape[0], -1)
        elif op == "Gemm":
            A, B = i[0], i[1]
            if a.get("transA", 0):
                A = A.T
            if a.get("transB", 0):
                B = B.T
            y = a.get("alpha", 1.0) * (A @ B)
            if len(i) > 2:
                y = y + a.get("beta", 1.0) * i[2]
        else:
            raise ValueError(f"op {op} ({n.name}) is not implemented by the reference evaluator")
        env[n.output[0]] = y
    return env[model.graph.output[0].name]


def main(argv):
    if len(argv) >= 3 and argv[1] == "check":
        for path in argv[2:]:
            _, domains, q = check(path)
            print(f"{path}: onnx.checker ok (opsets {domains}), {q} Quant nodes")
        return 0
    if len(argv) == 9 and argv[1] == "run":
        path, images, n, c, h, w, out = argv[2], argv[3], *map(int, argv[4:8]), argv[8]
        model, domains, q = check(path)
        data = np.fromfile(images, dtype=np.uint8)
        if data.size != n * c * h * w:
            raise ValueError(f"{images}: {data.size} bytes, want {n * c * h * w}")
        logits = evaluate(model, data.reshape(n, c, h, w))
        logits.astype("<f8").tofile(out)
        print(f"{path}: onnx.checker ok, {q} Quant nodes; evaluated {n} images -> {out}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except Exception as e:  # noqa: BLE001 -- any failure is a test failure with its message
        print(f"qonnx_reference.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
