#!/usr/bin/env python3
"""Writes tiny Chatterbox-shaped ONNX models and tokenizers for VoxServe's tests (nothing is downloaded).

Usage: make_chatterbox_test_models.py OUT_DIR

Writes two model folders laid out like the real exports (graphs under onnx/, tokenizer files at the
root), with the real graphs' input and output names, ranks and element types but tiny random weights:

- OUT_DIR/chatterbox-tiny: the Turbo layout (ResembleAI/chatterbox-turbo-ONNX). GPT-2-style byte-level
  BPE tokenizer (tokenizer.json, vocab.json + merges.txt), 2 LM layers with position_ids, KV cache
  [B, 16, past, 64]. Extra precision variants: language_model_fp16 (float16 embeddings, cache and
  logits), conditional_decoder_q4 and embed_tokens_quantized (copies of the fp32 graphs).
- OUT_DIR/chatterbox-tiny-original: the original (non-Turbo) layout: embed_tokens takes position_ids
  and exaggeration, the LM has 3 layers and no position_ids, a character-level BPE tokenizer whose
  template adds [START] ... [STOP].

How the tiny graphs behave, so tests can drive them:
- speech_encoder: outputs depend on the mean and mean magnitude of audio_values.
- language_model: logits = last hidden state projected to 6563 speech tokens, plus a term from the KV
  cache. The stop token 6562 wins by a margin of 1000 once the position of the last input token
  (position_ids in Turbo; attention_mask length - 1 in the original) reaches STOP_POSITION (stored
  as model metadata `voxserve.stop_position`); before that it loses by 1000. The start token 6561
  never wins. So with a prefix of P positions (conditioning + text) a run emits
  STOP_POSITION - P + 1 speech tokens, then the stop token.
- conditional_decoder: drops the first F/2 speech tokens (F = speaker_features frames, as the real
  decoder drops the prompt), then renders each token as 960 samples (40 ms at 24 kHz) of a sine whose
  frequency depends on the token; the silence token 4299 renders as zeros. Like the real decoder it
  fades in the first 40 ms of every call (20 ms of zeros, then a ramp).

The tokenizer folders also hold tokenizer_expectations.json: strings and the ids this script's own
BPE implementation (independent of VoxServe's Swift one) gives them.
"""
import json
import os
import shutil
import sys
import unicodedata

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HIDDEN = 32
KV_HEADS = 16
HEAD_DIM = 64
SPEECH_VOCAB = 6563  # 6561 speech tokens + start 6561 + stop 6562
START_SPEECH = 6561
STOP_SPEECH = 6562
EXAGGERATION_TOKEN = 6563
SILENCE_TOKEN = 4299
EMBED_ROWS = 6600
COND_LEN = 4
PROMPT_TOKENS = 6
SPEAKER_FRAMES = 12
SAMPLES_PER_TOKEN = 960
STOP_POSITION = 64
OPSET = 18


def save(model, path):
    model.opset_import[0].version = OPSET
    model.ir_version = 8
    onnx.checker.check_model(model)
    tmp = path + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, path)


def const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


# --------------------------------------------------------------------------------------------
# Graphs


def speech_encoder(path, rng):
    audio = helper.make_tensor_value_info("audio_values", TensorProto.FLOAT, ["batch_size", "num_samples"])
    outs = [
        helper.make_tensor_value_info("audio_features", TensorProto.FLOAT, ["batch_size", COND_LEN, HIDDEN]),
        helper.make_tensor_value_info("audio_tokens", TensorProto.INT64, ["batch_size", PROMPT_TOKENS]),
        helper.make_tensor_value_info("speaker_embeddings", TensorProto.FLOAT, ["batch_size", 192]),
        helper.make_tensor_value_info("speaker_features", TensorProto.FLOAT, ["batch_size", SPEAKER_FRAMES, 80]),
    ]
    inits = [
        const("axes1", np.array([1], dtype=np.int64)),
        const("w_feat", rng.standard_normal((2, COND_LEN * HIDDEN)).astype(np.float32)),
        const("b_feat", (rng.standard_normal(COND_LEN * HIDDEN) * 0.1).astype(np.float32)),
        const("shape_feat", np.array([-1, COND_LEN, HIDDEN], dtype=np.int64)),
        const("w_spk", rng.standard_normal((2, 192)).astype(np.float32)),
        const("b_spk", (rng.standard_normal(192) * 0.1).astype(np.float32)),
        const("w_sf", rng.standard_normal((2, SPEAKER_FRAMES * 80)).astype(np.float32)),
        const("b_sf", (rng.standard_normal(SPEAKER_FRAMES * 80) * 0.1).astype(np.float32)),
        const("shape_sf", np.array([-1, SPEAKER_FRAMES, 80], dtype=np.int64)),
        const("tokens", np.array([[11, 523, 2048, 77, 6000, 300]], dtype=np.int64)),
    ]
    nodes = [
        helper.make_node("ReduceMean", ["audio_values", "axes1"], ["mean"], keepdims=1),
        helper.make_node("Abs", ["audio_values"], ["absval"]),
        helper.make_node("ReduceMean", ["absval", "axes1"], ["level"], keepdims=1),
        helper.make_node("Concat", ["mean", "level"], ["stat"], axis=1),
        helper.make_node("MatMul", ["stat", "w_feat"], ["feat0"]),
        helper.make_node("Add", ["feat0", "b_feat"], ["feat1"]),
        helper.make_node("Reshape", ["feat1", "shape_feat"], ["audio_features"]),
        helper.make_node("Identity", ["tokens"], ["audio_tokens"]),
        helper.make_node("MatMul", ["stat", "w_spk"], ["spk0"]),
        helper.make_node("Add", ["spk0", "b_spk"], ["spk1"]),
        helper.make_node("Tanh", ["spk1"], ["speaker_embeddings"]),
        helper.make_node("MatMul", ["stat", "w_sf"], ["sf0"]),
        helper.make_node("Add", ["sf0", "b_sf"], ["sf1"]),
        helper.make_node("Reshape", ["sf1", "shape_sf"], ["speaker_features"]),
    ]
    graph = helper.make_graph(nodes, "speech_encoder", [audio], outs, inits)
    model = helper.make_model(graph, producer_name="voxserve-tests")
    helper.set_model_props(model, {"voxserve.fixture": "chatterbox-tiny"})
    save(model, path)


def embed_tokens(path, rng, original, placeholder=None):
    ids = helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "sequence_length"])
    out = helper.make_tensor_value_info("inputs_embeds", TensorProto.FLOAT, ["batch_size", "sequence_length", HIDDEN])
    inputs = [ids]
    inits = [const("table", (rng.standard_normal((EMBED_ROWS, HIDDEN)) * 0.5).astype(np.float32))]
    nodes = []
    if original:
        inputs.append(helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch_size", "sequence_length"]))
        inputs.append(helper.make_tensor_value_info("exaggeration", TensorProto.FLOAT, ["batch_size"]))
        inits += [
            const("pos_table", (rng.standard_normal((2048, HIDDEN)) * 0.1).astype(np.float32)),
            const("one", np.array(1, dtype=np.int64)),
            const("exag_vec", rng.standard_normal(HIDDEN).astype(np.float32)),
            const("axes12", np.array([1, 2], dtype=np.int64)),
        ]
        nodes += [
            helper.make_node("Gather", ["table", "input_ids"], ["tok"]),
            helper.make_node("Add", ["position_ids", "one"], ["pos1"]),
            helper.make_node("Gather", ["pos_table", "pos1"], ["pos"]),
            helper.make_node("Add", ["tok", "pos"], ["tokpos"]),
            helper.make_node("Unsqueeze", ["exaggeration", "axes12"], ["exag3"]),
            helper.make_node("Mul", ["exag3", "exag_vec"], ["exag_emb"]),
            helper.make_node("Add", ["tokpos", "exag_emb"], ["inputs_embeds"]),
        ]
    else:
        # Like Turbo's export: the last two ids are speech tokens (the template's placeholders
        # `<|endoftext|>` become start-of-speech 6561) and go through the speech table; the others
        # are text and go through the text table. A decode step's single id is speech.
        inits += [
            const("speech_table", (rng.standard_normal((SPEECH_VOCAB, HIDDEN)) * 0.5).astype(np.float32)),
            const("placeholder", np.array(placeholder, dtype=np.int64)),
            const("start_speech", np.array(START_SPEECH, dtype=np.int64)),
            const("zero1", np.array([0], dtype=np.int64)),
            const("minus2", np.array([-2], dtype=np.int64)),
            const("big", np.array([1 << 40], dtype=np.int64)),
            const("axis1", np.array([1], dtype=np.int64)),
        ]
        nodes += [
            helper.make_node("Slice", ["input_ids", "zero1", "minus2", "axis1"], ["text_ids"]),
            helper.make_node("Slice", ["input_ids", "minus2", "big", "axis1"], ["tail_ids"]),
            helper.make_node("Equal", ["tail_ids", "placeholder"], ["is_placeholder"]),
            helper.make_node("Where", ["is_placeholder", "start_speech", "tail_ids"], ["speech_ids"]),
            helper.make_node("Gather", ["table", "text_ids"], ["text_emb"]),
            helper.make_node("Gather", ["speech_table", "speech_ids"], ["speech_emb"]),
            helper.make_node("Concat", ["text_emb", "speech_emb"], ["inputs_embeds"], axis=1),
        ]
    graph = helper.make_graph(nodes, "embed_tokens", inputs, [out], inits)
    model = helper.make_model(graph, producer_name="voxserve-tests")
    helper.set_model_props(model, {"voxserve.fixture": "chatterbox-tiny"})
    save(model, path)


def language_model(path, rng, layers, original, half=False, keep_last=False):
    """keep_last: like exports made with recent transformers, declare `num_logits_to_keep` (an int64
    scalar) and return only the last that many positions' logits."""
    float_type = TensorProto.FLOAT16 if half else TensorProto.FLOAT
    inputs = [
        helper.make_tensor_value_info("inputs_embeds", float_type, ["batch_size", "sequence_length", HIDDEN]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch_size", "total_sequence_length"]),
    ]
    if not original:
        inputs.append(helper.make_tensor_value_info("position_ids", TensorProto.INT64, ["batch_size", "sequence_length"]))
    logits_len = "num_logits_to_keep" if keep_last else "sequence_length"
    if keep_last:
        inputs.append(helper.make_tensor_value_info("num_logits_to_keep", TensorProto.INT64, []))
    outputs = [helper.make_tensor_value_info("logits", float_type, ["batch_size", logits_len, SPEECH_VOCAB])]
    for i in range(layers):
        for kv in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(
                f"past_key_values.{i}.{kv}", float_type, ["batch_size", KV_HEADS, "past_sequence_length", HEAD_DIM]))
            outputs.append(helper.make_tensor_value_info(
                f"present.{i}.{kv}", float_type, ["batch_size", KV_HEADS, "total_sequence_length", HEAD_DIM]))

    bias = np.zeros(SPEECH_VOCAB, dtype=np.float32)
    bias[START_SPEECH] = -1.0e4
    stop_hot = np.zeros(SPEECH_VOCAB, dtype=np.float32)
    stop_hot[STOP_SPEECH] = 1.0
    inits = [
        const("w_out", (rng.standard_normal((HIDDEN, SPEECH_VOCAB)) * 0.6).astype(np.float32)),
        const("w_ctx", (rng.standard_normal(SPEECH_VOCAB) * 2.0).astype(np.float32)),
        const("bias", bias),
        const("stop_hot", stop_hot),
        const("stop_position", np.array(STOP_POSITION, dtype=np.float32)),
        const("thousand", np.array(1000.0, dtype=np.float32)),
        const("two", np.array(2.0, dtype=np.float32)),
        const("one_f", np.array(1.0, dtype=np.float32)),
        const("kv_shape", np.array([0, 0, KV_HEADS, HEAD_DIM], dtype=np.int64)),
        const("axes_ctx", np.array([1, 2, 3], dtype=np.int64)),
        const("axes_last", np.array([-1], dtype=np.int64)),
        const("axes1", np.array([1], dtype=np.int64)),
        const("axes12", np.array([1, 2], dtype=np.int64)),
    ]
    nodes = []

    def as_float(name):
        if not half:
            return name
        nodes.append(helper.make_node("Cast", [name], [name + "_f32"], to=TensorProto.FLOAT))
        return name + "_f32"

    def emit(name_f32, out_name):
        if half:
            nodes.append(helper.make_node("Cast", [name_f32], [out_name], to=TensorProto.FLOAT16))
        else:
            nodes.append(helper.make_node("Identity", [name_f32], [out_name]))

    hidden = as_float("inputs_embeds")
    inits.append(const("axes13", np.array([1, 3], dtype=np.int64)))
    nodes += [
        helper.make_node("Cast", ["attention_mask"], ["mask_seen"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_seen", "axes13"], ["mask_4d"]),  # [B, 1, T, 1]
        helper.make_node("ReduceMean", ["mask_seen", "axes1"], ["mask_mean"], keepdims=0),  # [B]
    ]
    ctx_terms = []
    for i in range(layers):
        for kv in ("key", "value"):
            w = (rng.standard_normal((HIDDEN, KV_HEADS * HEAD_DIM)) * 0.2).astype(np.float32)
            inits.append(const(f"w_{kv}{i}", w))
            nodes += [
                helper.make_node("MatMul", [hidden, f"w_{kv}{i}"], [f"{kv}{i}_flat"]),
                helper.make_node("Reshape", [f"{kv}{i}_flat", "kv_shape"], [f"{kv}{i}_4d"]),
                helper.make_node("Transpose", [f"{kv}{i}_4d"], [f"{kv}{i}_new"], perm=[0, 2, 1, 3]),
                helper.make_node("Concat", [as_float(f"past_key_values.{i}.{kv}"), f"{kv}{i}_new"], [f"{kv}{i}_all"], axis=2),
            ]
            emit(f"{kv}{i}_all", f"present.{i}.{kv}")
        # Attention stand-in: the mean of everything cached so far steers the logits. Positions the
        # attention mask hides (a batch's left padding) are left out: mean(v·m) / mean(m), which is
        # bit-identical to the plain mean when the mask is all ones (×1 and ÷1 are exact).
        nodes += [
            helper.make_node("Mul", [f"value{i}_all", "mask_4d"], [f"value{i}_seen"]),
            helper.make_node("ReduceMean", [f"value{i}_seen", "axes_ctx"], [f"ctx{i}_raw"], keepdims=0),
            helper.make_node("Div", [f"ctx{i}_raw", "mask_mean"], [f"ctx{i}"]),
        ]
        ctx_terms.append(f"ctx{i}")
    nodes.append(helper.make_node("Sum", ctx_terms, ["ctx"]))
    nodes.append(helper.make_node("Unsqueeze", ["ctx", "axes12"], ["ctx3"]))  # [B, 1, 1]
    nodes.append(helper.make_node("Mul", ["ctx3", "w_ctx"], ["ctx_logits"]))

    # Position of each input token (Turbo: position_ids; original: attention-mask length - 1).
    if original:
        nodes += [
            helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
            helper.make_node("ReduceSum", ["mask_f", "axes1"], ["mask_len"], keepdims=1),  # [B, 1]
            helper.make_node("Sub", ["mask_len", "one_f"], ["last_pos"]),
            helper.make_node("Unsqueeze", ["last_pos", "axes_last"], ["pos3"]),  # [B, 1, 1]
        ]
    else:
        nodes += [
            helper.make_node("Cast", ["position_ids"], ["pos_f"], to=TensorProto.FLOAT),
            helper.make_node("Unsqueeze", ["pos_f", "axes_last"], ["pos3"]),  # [B, T, 1]
        ]
    nodes += [
        helper.make_node("GreaterOrEqual", ["pos3", "stop_position"], ["stop_b"]),
        helper.make_node("Cast", ["stop_b"], ["stop_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["stop_f", "two"], ["stop_2"]),
        helper.make_node("Sub", ["stop_2", "one_f"], ["stop_sign"]),  # +1 at/after the stop position, else -1
        helper.make_node("Mul", ["stop_sign", "thousand"], ["stop_scale"]),
        helper.make_node("Mul", ["stop_scale", "stop_hot"], ["stop_logits"]),
        helper.make_node("MatMul", [hidden, "w_out"], ["base_logits"]),
        helper.make_node("Add", ["base_logits", "ctx_logits"], ["l1"]),
        helper.make_node("Add", ["l1", "bias"], ["l2"]),
        helper.make_node("Add", ["l2", "stop_logits"], ["logits_f32"]),
    ]
    if keep_last:
        inits += [const("big1", np.array([1 << 40], dtype=np.int64)),
                  const("axis1_1d", np.array([1], dtype=np.int64)), const("zero_axis", np.array([0], dtype=np.int64))]
        nodes += [
            helper.make_node("Neg", ["num_logits_to_keep"], ["neg_keep"]),
            helper.make_node("Unsqueeze", ["neg_keep", "zero_axis"], ["neg_keep1"]),
            helper.make_node("Slice", ["logits_f32", "neg_keep1", "big1", "axis1_1d"], ["logits_kept"]),
        ]
        emit("logits_kept", "logits")
    else:
        emit("logits_f32", "logits")
    graph = helper.make_graph(nodes, "language_model", inputs, outputs, inits)
    model = helper.make_model(graph, producer_name="voxserve-tests")
    helper.set_model_props(model, {
        "voxserve.fixture": "chatterbox-tiny",
        "voxserve.stop_position": str(STOP_POSITION),
    })
    save(model, path)


def conditional_decoder(path, rng):
    inputs = [
        helper.make_tensor_value_info("speech_tokens", TensorProto.INT64, ["batch_size", "num_speech_tokens"]),
        helper.make_tensor_value_info("speaker_embeddings", TensorProto.FLOAT, ["batch_size", 192]),
        helper.make_tensor_value_info("speaker_features", TensorProto.FLOAT, ["batch_size", "feature_dim", 80]),
    ]
    out = helper.make_tensor_value_info("waveform", TensorProto.FLOAT, ["batch_size", "num_samples"])
    freqs = (110.0 + (np.arange(SPEECH_VOCAB) % 61) * 17.0).astype(np.float32)
    amps = (0.2 + 0.2 * rng.random(SPEECH_VOCAB)).astype(np.float32)
    amps[SILENCE_TOKEN] = 0.0
    phase = (2.0 * np.pi * np.arange(SAMPLES_PER_TOKEN) / 24000.0).astype(np.float32)
    inits = [
        const("freqs", freqs),
        const("amps", amps),
        const("phase", phase),
        const("one_i", np.array([1], dtype=np.int64)),
        const("two_i", np.array([2], dtype=np.int64)),
        const("big", np.array([1 << 40], dtype=np.int64)),
        const("axes1", np.array([1], dtype=np.int64)),
        const("axes_last", np.array([-1], dtype=np.int64)),
        const("flat_shape", np.array([0, -1], dtype=np.int64)),
        const("half", np.array(0.5, dtype=np.float32)),
        const("tenth", np.array(0.1, dtype=np.float32)),
        const("one_s", np.array(1, dtype=np.int64)),
        const("zero_s", np.array(0, dtype=np.int64)),
        const("trim", np.array(SAMPLES_PER_TOKEN / 2, dtype=np.float32)),
        const("zero_f", np.array(0.0, dtype=np.float32)),
        const("one_f", np.array(1.0, dtype=np.float32)),
    ]
    nodes = [
        # The prompt is F/2 tokens long (F speaker-feature frames); its audio is not part of the output.
        helper.make_node("Shape", ["speaker_features"], ["sf_shape"]),
        helper.make_node("Gather", ["sf_shape", "one_i"], ["frames"], axis=0),
        helper.make_node("Div", ["frames", "two_i"], ["prompt_len"]),
        helper.make_node("Slice", ["speech_tokens", "prompt_len", "big", "axes1"], ["new_tokens"]),
        helper.make_node("Gather", ["freqs", "new_tokens"], ["f"]),  # [B, N]
        helper.make_node("Gather", ["amps", "new_tokens"], ["a"]),
        helper.make_node("Unsqueeze", ["f", "axes_last"], ["f3"]),  # [B, N, 1]
        helper.make_node("Unsqueeze", ["a", "axes_last"], ["a3"]),
        helper.make_node("Mul", ["f3", "phase"], ["arg"]),  # [B, N, 960]
        helper.make_node("Sin", ["arg"], ["s"]),
        helper.make_node("Mul", ["s", "a3"], ["sa"]),
        helper.make_node("Reshape", ["sa", "flat_shape"], ["wave0"]),  # [B, N*960]
        # The speaker embedding sets the gain, so another voice sounds different.
        helper.make_node("ReduceMean", ["speaker_embeddings", "axes1"], ["spk_mean"], keepdims=1),
        helper.make_node("Tanh", ["spk_mean"], ["spk_t"]),
        helper.make_node("Mul", ["spk_t", "tenth"], ["spk_g"]),
        helper.make_node("Add", ["spk_g", "half"], ["gain"]),
        helper.make_node("Mul", ["wave0", "gain"], ["wave1"]),
        # Like the real decoder, every call fades its first samples in (20 ms of zeros, then a
        # 20 ms ramp), so a window decoded on its own differs from a whole decode at its start.
        helper.make_node("Shape", ["wave1"], ["w_shape"]),
        helper.make_node("Gather", ["w_shape", "one_s"], ["w_len"], axis=0),
        helper.make_node("Range", ["zero_s", "w_len", "one_s"], ["idx"]),
        helper.make_node("Cast", ["idx"], ["idx_f"], to=TensorProto.FLOAT),
        helper.make_node("Sub", ["idx_f", "trim"], ["idx_t"]),
        helper.make_node("Div", ["idx_t", "trim"], ["ramp"]),
        helper.make_node("Clip", ["ramp", "zero_f", "one_f"], ["fade"]),
        helper.make_node("Mul", ["wave1", "fade"], ["waveform"]),
    ]
    graph = helper.make_graph(nodes, "conditional_decoder", inputs, [out], inits)
    model = helper.make_model(graph, producer_name="voxserve-tests")
    helper.set_model_props(model, {"voxserve.fixture": "chatterbox-tiny"})
    save(model, path)


# --------------------------------------------------------------------------------------------
# Tokenizers: a reference implementation written apart from VoxServe's Swift one.


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def is_letter(ch):
    return unicodedata.category(ch).startswith("L")


def is_number(ch):
    return unicodedata.category(ch).startswith("N")


def is_space(ch):
    return ch.isspace()


CONTRACTIONS = ("s", "t", "re", "ve", "m", "ll", "d")


def gpt2_pretokenize(text):
    """GPT-2's split 's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+, by hand."""
    out = []
    i, n = 0, len(text)

    def other(ch):
        return not (is_space(ch) or is_letter(ch) or is_number(ch))

    def run_end(start, test):
        k = start
        while k < n and test(text[k]):
            k += 1
        return k

    while i < n:
        c = text[i]
        if c == "'":
            suffix = next((s for s in CONTRACTIONS if text.startswith(s, i + 1)), None)
            if suffix is not None:
                out.append(text[i:i + 1 + len(suffix)])
                i += 1 + len(suffix)
                continue
        j = i + 1 if c == " " else i
        test = None
        if j < n:
            test = next((t for t in (is_letter, is_number, other) if t(text[j])), None)
        if test is not None:
            k = run_end(j, test)
        else:
            k = run_end(i, is_space)
            if k < n and k - i >= 2:
                k -= 1  # the last space goes with the word that follows
        out.append(text[i:k])
        i = k
    return out


def bpe(word, ranks):
    parts = list(word)
    while len(parts) > 1:
        pairs = [(ranks.get((parts[x], parts[x + 1]), None), x) for x in range(len(parts) - 1)]
        pairs = [p for p in pairs if p[0] is not None]
        if not pairs:
            break
        best = min(pairs)[0]
        merged, x = [], 0
        while x < len(parts):
            if x < len(parts) - 1 and ranks.get((parts[x], parts[x + 1])) == best:
                merged.append(parts[x] + parts[x + 1])
                x += 2
            else:
                merged.append(parts[x])
                x += 1
        parts = merged
    return parts


def split_added(text, added):
    """Splits out added tokens (longest first); returns [(is_added, piece)]."""
    pieces, i, start = [], 0, 0
    ordered = sorted(added, key=len, reverse=True)
    while i < len(text):
        hit = next((a for a in ordered if text.startswith(a, i)), None)
        if hit:
            if start < i:
                pieces.append((False, text[start:i]))
            pieces.append((True, hit))
            i += len(hit)
            start = i
        else:
            i += 1
    if start < len(text):
        pieces.append((False, text[start:]))
    return pieces


def byte_level_encode(text, vocab, ranks, added):
    table = bytes_to_unicode()
    ids = []
    for is_added, piece in split_added(text, added):
        if is_added:
            ids.append(added[piece])
            continue
        for word in gpt2_pretokenize(piece):
            mapped = "".join(table[b] for b in word.encode("utf-8"))
            ids.extend(vocab[t] for t in bpe(mapped, ranks))
    return ids


def train_byte_level(corpus, merges_wanted):
    table = bytes_to_unicode()
    words = {}
    for line in corpus:
        for w in gpt2_pretokenize(line):
            key = tuple(table[b] for b in w.encode("utf-8"))
            words[key] = words.get(key, 0) + 1
    merges = []
    for _ in range(merges_wanted):
        counts = {}
        for w, f in words.items():
            for x in range(len(w) - 1):
                counts[(w[x], w[x + 1])] = counts.get((w[x], w[x + 1]), 0) + f
        if not counts:
            break
        best = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(best)
        new_words = {}
        for w, f in words.items():
            out, x = [], 0
            while x < len(w):
                if x < len(w) - 1 and (w[x], w[x + 1]) == best:
                    out.append(w[x] + w[x + 1])
                    x += 2
                else:
                    out.append(w[x])
                    x += 1
            new_words[tuple(out)] = new_words.get(tuple(out), 0) + f
        words = new_words
    return merges


CORPUS = [
    "Hello world, this is a tiny tokenizer for tests.",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure they'll say it's the best thing we've done, and you'd agree.",
    "Numbers like 12345 and 2026 appear in the text too.",
    "Speech synthesis turns text into audio; the voice is cloned from a reference.",
    "Hello again! Is this the world we wanted? Yes, it is.",
    "There there, the other three think that those are theirs.",
]

TURBO_STRINGS = [
    "Hello world",
    "Hello world, this is a test.",
    " Hello",
    "hello  world",
    "I'm here, they'll see; it's 2026!",
    "It's the quick brown fox.",
    "Tabs\tand\nnewlines\n\n end",
    "trailing spaces   ",
    "Café déjà vu — naïve?",
    "日本語のテキスト",
    "emoji 🎉 party",
    "Oh, that's hilarious! [chuckle] Um anyway.",
    "<|endoftext|>start[laugh]",
    "x'y 'quoted' ?!... 3.14",
    "numbers 12345678 and ٣٤",
]


def write_turbo_tokenizer(out):
    table = bytes_to_unicode()
    merges = train_byte_level(CORPUS, 220)
    vocab = {}
    for b in range(256):
        vocab[table[b]] = len(vocab)
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    added = {}
    for token in ("<|endoftext|>", "[chuckle]", "[laugh]"):
        added[token] = len(vocab) + len(added)
    ranks = {m: r for r, m in enumerate(merges)}

    with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({**vocab, "<|endoftext|>": added["<|endoftext|>"]}, f, ensure_ascii=False)
    with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    with open(os.path.join(out, "added_tokens.json"), "w", encoding="utf-8") as f:
        json.dump({k: v for k, v in added.items() if k != "<|endoftext|>"}, f, ensure_ascii=False)
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True} for t, i in added.items()
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        # Turbo's template: the text, then `<|endoftext|>` twice (embed_tokens reads them as speech).
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"Sequence": {"id": "A", "type_id": 0}},
                        {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
                        {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}],
             "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {"<|endoftext|>": {"id": "<|endoftext|>", "ids": [added["<|endoftext|>"]],
                                                  "tokens": ["<|endoftext|>"]}}},
        ]},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
            "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": vocab,
            "merges": [[a, b] for a, b in merges],
        },
    }
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)
    eot = added["<|endoftext|>"]
    cases = []
    for text in TURBO_STRINGS:
        ids = byte_level_encode(text, vocab, ranks, added)
        # "ids": the BPE alone (vocab.json + merges.txt); "template_ids": tokenizer.json's, with the template.
        cases.append({"text": text, "ids": ids, "template_ids": ids + [eot, eot]})
    with open(os.path.join(out, "tokenizer_expectations.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)
    return eot


ORIGINAL_STRINGS = ["Hello[SPACE]there.", "the[SPACE]other[SPACE]three", "Zoë?", "in[SPACE]an[SPACE]inn"]


def write_original_tokenizer(out):
    """Character-level BPE like Chatterbox's English tokenizer: [STOP]=0, [UNK]=1, [SPACE]=2, [START]=255."""
    chars = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'-\"")
    vocab = {"[STOP]": 0, "[UNK]": 1, "[SPACE]": 2}
    for c in chars:
        vocab[c] = len(vocab)
    merges = [("t", "h"), ("th", "e"), ("i", "n"), ("a", "n"), ("e", "r"), ("in", "n")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab["[START]"] = 255
    specials = {"[STOP]": 0, "[UNK]": 1, "[SPACE]": 2, "[START]": 255}
    ranks = {m: r for r, m in enumerate(merges)}
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True} for t, i in specials.items()
        ],
        "normalizer": None,
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [
                {"SpecialToken": {"id": "[START]", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "[STOP]", "type_id": 0}},
            ],
            "pair": [
                {"Sequence": {"id": "A", "type_id": 0}},
                {"Sequence": {"id": "B", "type_id": 1}},
            ],
            "special_tokens": {
                "[START]": {"id": "[START]", "ids": [255], "tokens": ["[START]"]},
                "[STOP]": {"id": "[STOP]", "ids": [0], "tokens": ["[STOP]"]},
            },
        },
        "decoder": None,
        "model": {
            "type": "BPE", "dropout": None, "unk_token": "[UNK]", "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
            "vocab": vocab,
            "merges": [f"{a} {b}" for a, b in merges],
        },
    }
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)

    def encode(text):
        ids = [255]
        for is_added, piece in split_added(text, specials):
            if is_added:
                ids.append(specials[piece])
                continue
            ids.extend(vocab.get(t, 1) for t in bpe(piece, ranks))
        return ids + [0]

    cases = [{"text": s, "ids": encode(s)} for s in ORIGINAL_STRINGS]
    with open(os.path.join(out, "tokenizer_expectations.json"), "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=1)


# --------------------------------------------------------------------------------------------


def make_turbo(root, keep_last=False):
    onnx_dir = os.path.join(root, "onnx")
    os.makedirs(onnx_dir, exist_ok=True)
    placeholder = write_turbo_tokenizer(root)
    rng = np.random.default_rng(5)
    speech_encoder(os.path.join(onnx_dir, "speech_encoder.onnx"), rng)
    embed_tokens(os.path.join(onnx_dir, "embed_tokens.onnx"), rng, original=False, placeholder=placeholder)
    lm_rng_state = rng.bit_generator.state
    language_model(os.path.join(onnx_dir, "language_model.onnx"), rng, layers=2, original=False, keep_last=keep_last)
    if not keep_last:
        rng.bit_generator.state = lm_rng_state  # same weights, float16 interface
        language_model(os.path.join(onnx_dir, "language_model_fp16.onnx"), rng, layers=2, original=False, half=True)
    conditional_decoder(os.path.join(onnx_dir, "conditional_decoder.onnx"), rng)
    if not keep_last:
        shutil.copyfile(os.path.join(onnx_dir, "conditional_decoder.onnx"), os.path.join(onnx_dir, "conditional_decoder_q4.onnx"))
        shutil.copyfile(os.path.join(onnx_dir, "embed_tokens.onnx"), os.path.join(onnx_dir, "embed_tokens_quantized.onnx"))


def make_turbo_keep_last(root):
    """chatterbox-tiny's weights, with a language model that declares num_logits_to_keep and
    returns only the last position's logits."""
    make_turbo(root, keep_last=True)


def make_original(root):
    onnx_dir = os.path.join(root, "onnx")
    os.makedirs(onnx_dir, exist_ok=True)
    rng = np.random.default_rng(7)
    speech_encoder(os.path.join(onnx_dir, "speech_encoder.onnx"), rng)
    embed_tokens(os.path.join(onnx_dir, "embed_tokens.onnx"), rng, original=True)
    language_model(os.path.join(onnx_dir, "language_model.onnx"), rng, layers=3, original=True)
    conditional_decoder(os.path.join(onnx_dir, "conditional_decoder.onnx"), rng)
    write_original_tokenizer(root)


def main():
    out = sys.argv[1]
    for name, make in (("chatterbox-tiny", make_turbo), ("chatterbox-tiny-keeplogits", make_turbo_keep_last),
                       ("chatterbox-tiny-original", make_original)):
        root = os.path.join(out, name)
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root)
        make(root)


if __name__ == "__main__":
    main()
