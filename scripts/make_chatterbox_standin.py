#!/usr/bin/env python3
"""Writes a full-size Chatterbox Turbo stand-in for speed checks on a GPU (`make gpu-check`).

The language model has Turbo's real shape and cost: GPT-2 medium (24 layers, hidden 1024, 16 heads
of 64, MLP 4096, ~300 M parameters) with real causal attention over a KV cache, through the same
interface the export has (inputs_embeds, attention_mask, position_ids, past_key_values.{i}.key/value
→ logits, present.{i}.key/value), in fp32 and fp16 (`language_model_fp16.onnx`). The weights are
seeded random numbers (GPT-2's initialisation scale), so the speech is noise; a bias makes the stop
token win from position 160 on, so each sentence ends after about 140 tokens instead of running to
the step limit. The speech encoder, embedder, decoder and tokenizer are the tiny test graphs'
(scripts/make_chatterbox_test_models.py), widened to hidden size 1024.

Needs numpy and onnx. Usage: make_chatterbox_standin.py OUT_DIR [--layers N --hidden H] (smaller
sizes check the graph quickly on a CPU).
"""
import argparse
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_chatterbox_test_models as tiny  # noqa: E402

HEADS = 16
HEAD_DIM = 64
STOP_FROM_POSITION = 160
OPSET = 18


def language_model(path, rng, layers, hidden, half):
    ftype = TensorProto.FLOAT16 if half else TensorProto.FLOAT
    npf = np.float16 if half else np.float32
    vocab = tiny.SPEECH_VOCAB
    heads = hidden // HEAD_DIM
    inits = []
    nodes = []

    def const(name, array):
        inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def weight(name, shape, scale=0.02):
        return const(name, (rng.standard_normal(shape, dtype=np.float32) * scale).astype(npf))

    def node(op, inputs, output, **attrs):
        nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    inputs = [
        helper.make_tensor_value_info("inputs_embeds", ftype, ["batch_size", "sequence_length", hidden]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"]),
        helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch_size", "sequence_length"]),
    ]
    outputs = [helper.make_tensor_value_info("logits", ftype, ["batch_size", "sequence_length", vocab])]
    for i in range(layers):
        for kv in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{kv}", ftype, ["batch_size", heads, "past_sequence_length", HEAD_DIM]))
            outputs.append(helper.make_tensor_value_info(f"present.{i}.{kv}", ftype, ["batch_size", heads, "total_sequence_length", HEAD_DIM]))

    const("split_shape", np.array([0, 0, heads, HEAD_DIM], dtype=np.int64))
    const("merge_shape", np.array([0, 0, hidden], dtype=np.int64))
    const("zero", np.array(0, dtype=np.int64))
    const("one", np.array(1, dtype=np.int64))
    const("scale", np.array(1 / np.sqrt(HEAD_DIM), dtype=npf))
    const("neg", np.array(-1e4, dtype=npf))
    const("gelu_k", np.array(1.702, dtype=npf))
    const("ax0", np.array([0], dtype=np.int64))
    const("ax1", np.array([1], dtype=np.int64))
    const("ax12", np.array([1, 2], dtype=np.int64))
    const("idx1", np.array([1], dtype=np.int64))
    const("idx2", np.array([2], dtype=np.int64))
    const("qkv_split", np.array([hidden, hidden, hidden], dtype=np.int64))

    # Positions, and the causal mask of this step: query s (at absolute past + s) sees keys t <= past + s.
    wpe = weight("wpe", (4096, hidden))
    x = node("Add", ["inputs_embeds", node("Gather", [wpe, "position_ids"], "pos_emb")], "x0")
    node("Shape", ["inputs_embeds"], "embeds_shape")
    node("Gather", ["embeds_shape", "one"], "seq_len")
    node("Shape", ["attention_mask"], "mask_shape")
    node("Gather", ["mask_shape", "one"], "total_len")
    node("Sub", ["total_len", "seq_len"], "past_len")
    node("Range", ["zero", "total_len", "one"], "key_pos")
    node("Add", ["past_len", "seq_len"], "end_pos")
    node("Range", ["past_len", "end_pos", "one"], "query_pos")
    node("Unsqueeze", ["query_pos", "ax1"], "query_col")  # [S, 1]
    node("LessOrEqual", ["key_pos", "query_col"], "causal")  # [S, T]
    node("Cast", ["attention_mask"], "mask_bool", to=TensorProto.BOOL)
    node("Unsqueeze", ["mask_bool", "ax12"], "mask4")  # [B, 1, 1, T]
    node("And", ["causal", "mask4"], "allowed")  # [B, 1, S, T]

    for i in range(layers):
        p = f"l{i}_"
        h = node("LayerNormalization", [x, const(p + "ln1_g", np.ones(hidden, npf)), const(p + "ln1_b", np.zeros(hidden, npf))], p + "h", axis=-1)
        qkv = node("Add", [node("MatMul", [h, weight(p + "w_qkv", (hidden, 3 * hidden))], p + "qkv_mm"), const(p + "b_qkv", np.zeros(3 * hidden, npf))], p + "qkv")
        nodes.append(helper.make_node("Split", [qkv, "qkv_split"], [p + "q", p + "k", p + "v"], axis=2))
        heads_of = {}
        for part in ("q", "k", "v"):
            r = node("Reshape", [p + part, "split_shape"], p + part + "_r")
            heads_of[part] = node("Transpose", [r], p + part + "_t", perm=[0, 2, 1, 3])  # [B, heads, S, 64]
        key = node("Concat", [f"past_key_values.{i}.key", heads_of["k"]], f"present.{i}.key", axis=2)
        value = node("Concat", [f"past_key_values.{i}.value", heads_of["v"]], f"present.{i}.value", axis=2)
        kt = node("Transpose", [key], p + "kt", perm=[0, 1, 3, 2])
        scores = node("Mul", [node("MatMul", [heads_of["q"], kt], p + "qk"), "scale"], p + "scores")
        masked = node("Where", ["allowed", scores, "neg"], p + "masked")
        probs = node("Softmax", [masked], p + "probs", axis=-1)
        attn = node("MatMul", [probs, value], p + "attn")  # [B, heads, S, 64]
        merged = node("Reshape", [node("Transpose", [attn], p + "attn_t", perm=[0, 2, 1, 3]), "merge_shape"], p + "merged")
        proj = node("Add", [node("MatMul", [merged, weight(p + "w_o", (hidden, hidden))], p + "o_mm"), const(p + "b_o", np.zeros(hidden, npf))], p + "o")
        x = node("Add", [x, proj], p + "x1")
        h2 = node("LayerNormalization", [x, const(p + "ln2_g", np.ones(hidden, npf)), const(p + "ln2_b", np.zeros(hidden, npf))], p + "h2", axis=-1)
        up = node("Add", [node("MatMul", [h2, weight(p + "w_up", (hidden, 4 * hidden))], p + "up_mm"), const(p + "b_up", np.zeros(4 * hidden, npf))], p + "up")
        act = node("Mul", [up, node("Sigmoid", [node("Mul", [up, "gelu_k"], p + "gk")], p + "gs")], p + "act")
        down = node("Add", [node("MatMul", [act, weight(p + "w_down", (4 * hidden, hidden))], p + "down_mm"), const(p + "b_down", np.zeros(hidden, npf))], p + "down")
        x = node("Add", [x, down], p + "x2")

    hf = node("LayerNormalization", [x, const("lnf_g", np.ones(hidden, npf)), const("lnf_b", np.zeros(hidden, npf))], "hf", axis=-1)
    raw = node("MatMul", [hf, weight("w_lm", (hidden, vocab))], "raw_logits")
    # The stop token wins from STOP_FROM_POSITION on: sentences end instead of running to the step limit.
    stop = np.zeros(vocab, npf)
    stop[tiny.STOP_SPEECH] = 1e4
    node("GreaterOrEqual", ["position_ids", const("stop_from", np.array(STOP_FROM_POSITION, dtype=np.int64))], "late")
    node("Cast", ["late"], "late_f", to=ftype)
    node("Unsqueeze", ["late_f", const("ax_last", np.array([2], dtype=np.int64))], "late3")
    node("Mul", ["late3", const("stop_bias", stop)], "bias")
    node("Add", [raw, "bias"], "logits")

    graph = helper.make_graph(nodes, "language_model", inputs, outputs, inits)
    model = helper.make_model(graph, producer_name="voxserve-standin", opset_imports=[helper.make_operatorsetid("", OPSET)])
    model.ir_version = 9
    helper.set_model_props(model, {"voxserve.fixture": "chatterbox-standin"})
    data = os.path.basename(path) + "_data"
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location=data, size_threshold=1024)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--hidden", type=int, default=1024)
    args = ap.parse_args()
    tiny.HIDDEN = args.hidden
    root = args.out
    shutil.rmtree(root, ignore_errors=True)
    onnx_dir = os.path.join(root, "onnx")
    os.makedirs(onnx_dir)
    rng = np.random.default_rng(11)
    tiny.speech_encoder(os.path.join(onnx_dir, "speech_encoder.onnx"), rng)
    tiny.embed_tokens(os.path.join(onnx_dir, "embed_tokens.onnx"), rng, original=False)
    state = rng.bit_generator.state
    language_model(os.path.join(onnx_dir, "language_model.onnx"), rng, args.layers, args.hidden, half=False)
    rng.bit_generator.state = state
    language_model(os.path.join(onnx_dir, "language_model_fp16.onnx"), rng, args.layers, args.hidden, half=True)
    tiny.conditional_decoder(os.path.join(onnx_dir, "conditional_decoder.onnx"), rng)
    tiny.write_turbo_tokenizer(root)
    params = args.layers * 12 * args.hidden * args.hidden + (4096 + tiny.SPEECH_VOCAB) * args.hidden
    print(f"chatterbox stand-in in {root}: {args.layers} layers, hidden {args.hidden}, about {params / 1e6:.0f} M language-model parameters")


if __name__ == "__main__":
    main()
