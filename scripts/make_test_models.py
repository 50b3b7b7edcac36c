#!/usr/bin/env python3
"""Writes the small ONNX models VoxServe's tests run (nothing is downloaded).

Usage: make_test_models.py OUT_DIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper


def save(model, path):
    model.opset_import[0].version = 17
    model.ir_version = 8
    onnx.checker.check_model(model)
    tmp = path + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, path)


def basic_ops(out):
    """y = x * 2 + bias (float32, dynamic batch); n = ids + 1 (int64); h = half * 3 (float16)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, [None])
    half = helper.make_tensor_value_info("half", TensorProto.FLOAT16, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])
    n = helper.make_tensor_value_info("n", TensorProto.INT64, [None])
    h = helper.make_tensor_value_info("h", TensorProto.FLOAT16, [2])
    inits = [
        helper.make_tensor("two", TensorProto.FLOAT, [], [2.0]),
        helper.make_tensor("bias", TensorProto.FLOAT, [3], [0.5, -1.0, 10.0]),
        helper.make_tensor("one", TensorProto.INT64, [], [1]),
        helper.make_tensor("three", TensorProto.FLOAT16, [], [3.0]),
    ]
    nodes = [
        helper.make_node("Mul", ["x", "two"], ["x2"]),
        helper.make_node("Add", ["x2", "bias"], ["y"]),
        helper.make_node("Add", ["ids", "one"], ["n"]),
        helper.make_node("Mul", ["half", "three"], ["h"]),
    ]
    graph = helper.make_graph(nodes, "basic_ops", [x, ids, half], [y, n, h], inits)
    model = helper.make_model(graph, producer_name="voxserve-tests")
    helper.set_model_props(model, {"voxserve.fixture": "basic_ops"})
    save(model, os.path.join(out, "basic_ops.onnx"))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    basic_ops(out)


if __name__ == "__main__":
    main()
