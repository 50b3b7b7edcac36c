#!/usr/bin/env python3
"""Writes full-size Chatterbox Turbo stand-ins: the four ONNX graphs at the real architecture's size
with seeded random weights, laid out like ResembleAI/chatterbox-turbo-ONNX (onnx/*.onnx with
*.onnx_data beside the large ones, tokenizer files at the root). The speech is noise; the cost is real.

Usage: make_chatterbox_standin.py OUT_DIR [--backend auto|onnx|torch] [--layers N --hidden H]
       [--stop-from POSITION] [--no-quantize] [--q4-accuracy-level 0-4]

--backend torch (`make chatterbox-standin`, in .deps/standin-venv from scripts/setup-standin.sh) builds
from the public model code, chatterbox-tts 0.1.7's classes with seeded random weights (biases and
norms too, which initialisation leaves constant and the exporter would fold away):
- language_model: exported with torch.onnx.export (dynamo) from Turbo's T3: transformers' GPT2Model
  with T3's GPT-2-medium config (24 layers, 16 heads of 64, hidden 1024, learned positions, no wte)
  and T3.speech_head (1024 -> 6563, with bias): 317,431,203 parameters. After export the symbolic
  dims get the published names, the exporter's debug metadata goes, and Conv1D's Gemm becomes
  MatMul + Add (the form MatMulNBits quantizes).
- embed_tokens: exported from T3.text_emb (50276 x 1024) and T3.speech_emb (6563 x 1024), 58,203,136
  parameters. As in Turbo's export the last two ids are speech tokens (the tokenizer template's two
  `<|endoftext|>`, read as start-of-speech 6561) and the others text; a decode step's one id is speech.
- speech_encoder: a matched stand-in, not an export (the S3 tokenizer's FSQ and the mel front ends
  were not exported): the parameter count of VoiceEncoder + CAMPPlus + S3TokenizerV2 + T3CondEnc + T3's
  speech_emb (138,970,410) in dense layers (onnx helper API) at the token rate (25 Hz), about 70 GFLOP
  per 10 s of reference like the real networks' (~80); audio_tokens [1, P] with P = samples / 960
  (at most 10 s), speaker_features [1, 2P, 80], audio_features [1, 1 + P, 1024], speaker_embeddings
  [1, 192].
- conditional_decoder: a matched stand-in (the flow-matching decoder and HiFT vocoder were not
  exported): the parameter count of S3Gen's flow + mel2wav (135,467,807), shaped like them (an
  encoder at the token rate, an estimator over 2 mel frames a token run for 2 meanflow steps, a
  vocoder stack over 15 rows a mel frame): about 0.7 GFLOP per token plus 1.2 GFLOP per generated
  token, as measured on the torch classes. It drops the prompt (F/2 tokens for F speaker_features
  frames) and renders 960 samples (40 ms at 24 kHz) a token, fading in the first 40 ms.
Parameter counts are taken from the instantiated classes at build time and written, with which
graphs are exports, to OUT_DIR/STANDIN.md. Every tensor over 1 KiB is in NAME.onnx_data beside the
graph (the small shape constants stay inline, where shape inference reads them). Variants of every
graph: *_quantized.onnx (quantize_dynamic, int8 weights) and *_q4.onnx (MatMulNBits, 4 bits, block 32,
accuracy_level 4 unless told). No stop-token bias: random weights never emit the stop token, so
callers give a token budget. Also the tiny Turbo fixture's tokenizer files (GPT-2-style BPE and
template) and default_voice.wav (10 s of a synthetic voiced signal, 24 kHz, 16-bit). Each graph is
run once in ONNX Runtime at the end.

--backend onnx (numpy and onnx only; `make gpu-check` on the GPU machine): the language model is
built with the onnx helper API, GPT-2 medium's shape and cost, in fp32 and fp16
(language_model_fp16.onnx); a bias makes the stop token win from --stop-from (160) on, so each
sentence ends after about 140 tokens (0 turns it off). The speech encoder, embedder, decoder and
tokenizer are the tiny test graphs' (scripts/make_chatterbox_test_models.py), widened to hidden
size 1024. --layers / --hidden build smaller graphs to check quickly on a CPU. auto (the default)
is torch where torch and chatterbox-tts import, else onnx.
"""
import argparse
import importlib.machinery
import json
import logging
import importlib.util
import inspect
import os
import shutil
import sys
import time
import types
import wave

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_chatterbox_test_models as tiny  # noqa: E402

HEADS = 16
HEAD_DIM = 64
STOP_FROM_POSITION = 160
OPSET = 18


def language_model(path, rng, layers, hidden, half, stop_from=STOP_FROM_POSITION):
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
    raw = node("MatMul", [hf, weight("w_lm", (hidden, vocab))], "logits" if not stop_from else "raw_logits")
    if stop_from:
        stop_bias(node, const, raw, vocab, npf, ftype, stop_from)

    graph = helper.make_graph(nodes, "language_model", inputs, outputs, inits)
    model = helper.make_model(graph, producer_name="voxserve-standin", opset_imports=[helper.make_operatorsetid("", OPSET)])
    model.ir_version = 9
    helper.set_model_props(model, {"voxserve.fixture": "chatterbox-standin"})
    data = os.path.basename(path) + "_data"
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location=data, size_threshold=1024)


def stop_bias(node, const, raw, vocab, npf, ftype, stop_from):
    """The stop token wins from position stop_from on: sentences end instead of running to the step limit."""
    stop = np.zeros(vocab, npf)
    stop[tiny.STOP_SPEECH] = 1e4
    node("GreaterOrEqual", ["position_ids", const("stop_from", np.array(stop_from, dtype=np.int64))], "late")
    node("Cast", ["late"], "late_f", to=ftype)
    node("Unsqueeze", ["late_f", const("ax_last", np.array([2], dtype=np.int64))], "late3")
    node("Mul", ["late3", const("stop_bias", stop)], "bias")
    node("Add", [raw, "bias"], "logits")


# --------------------------------------------------------------------------------------------
# --backend torch: from chatterbox-tts's classes.

SAMPLE_RATE = 24000
TOKEN_SAMPLES = 960  # 40 ms at 24 kHz: one speech token
MAX_REFERENCE = 10 * SAMPLE_RATE  # the decoder's conditioning is the first 10 s (DEC_COND_LEN)


def torch_available():
    return importlib.util.find_spec("torch") is not None and importlib.util.find_spec("chatterbox") is not None


def import_chatterbox():
    """chatterbox-tts's model classes without its package __init__ (which loads the whole TTS stack:
    perth, librosa resampling, the hub). torchaudio has no wheel for torch 2.13; the classes import it
    at module level but only call it on audio, which the build never feeds them, so a shim stands in."""
    try:
        import torchaudio.compliance.kaldi  # noqa: F401
    except Exception:
        def unavailable(*_args, **_kwargs):
            raise RuntimeError("torchaudio is not installed (a build-time shim)")
        shims = {}
        for name in ("torchaudio", "torchaudio.compliance", "torchaudio.compliance.kaldi", "torchaudio.transforms"):
            module = types.ModuleType(name)
            module.__spec__ = importlib.machinery.ModuleSpec(name, None)
            module.__path__ = []
            shims[name] = module
        shims["torchaudio"].compliance = shims["torchaudio.compliance"]
        shims["torchaudio"].transforms = shims["torchaudio.transforms"]
        shims["torchaudio"].load = unavailable
        shims["torchaudio.compliance"].kaldi = shims["torchaudio.compliance.kaldi"]
        shims["torchaudio.compliance.kaldi"].fbank = unavailable
        shims["torchaudio.transforms"].Resample = unavailable
        sys.modules.update(shims)
    if "chatterbox" not in sys.modules:
        spec = importlib.util.find_spec("chatterbox")
        package = types.ModuleType("chatterbox")
        package.__path__ = list(spec.submodule_search_locations)
        package.__spec__ = spec
        sys.modules["chatterbox"] = package
    from chatterbox.models.s3gen import S3Gen
    from chatterbox.models.t3 import T3
    from chatterbox.models.t3.modules.t3_config import T3Config
    from chatterbox.models.voice_encoder import VoiceEncoder
    return T3, T3Config, S3Gen, VoiceEncoder


def turbo_t3(T3, T3Config):
    """T3 as ChatterboxTurboTTS.from_local builds it (its hyperparameters, GPT-2 medium, no wte)."""
    hp = T3Config(text_tokens_dict_size=50276)
    hp.llama_config_name = "GPT2_medium"
    hp.speech_tokens_dict_size = 6563
    hp.input_pos_emb = None
    hp.speech_cond_prompt_len = 375
    hp.use_perceiver_resampler = False
    hp.emotion_adv = False
    t3 = T3(hp)
    del t3.tfmr.wte
    return t3.eval()


def randomise_constants(torch, module):
    """Initialisation leaves biases at 0 and norms at 1; trained weights are not constant, and the
    exporter would fold a zero bias away. Seeded noise keeps every parameter in the graph."""
    with torch.no_grad():
        for p in module.parameters():
            if p.numel() > 1 and float(p.std()) == 0.0:
                p.add_(torch.randn_like(p) * 0.02)


def count(module):
    return sum(p.numel() for p in module.parameters())


def rename_dims(path, dims):
    """Gives the exporter's symbolic dims (s10, s15 + s29, ...) the published export's names, and
    drops the intermediate shapes that still use the old ones (ONNX Runtime infers them again)."""
    model = onnx.load(path, load_external_data=False)
    for value in list(model.graph.input) + list(model.graph.output):
        names = dims(value.name)
        if names is None:
            continue
        for dim, name in zip(value.type.tensor_type.shape.dim, names):
            if isinstance(name, str):
                dim.Clear()
                dim.dim_param = name
    del model.graph.value_info[:]
    for node in model.graph.node:
        del node.metadata_props[:]  # the exporter's stack traces and FX names: megabytes of debug text
    gemm_to_matmul(model.graph)
    onnx.save_model(model, path)


def gemm_to_matmul(graph):
    """Gemm(A, W[, C]) with no transposes and unit scales (transformers' Conv1D as the exporter writes
    it) → MatMul(A, W) [+ Add C]: the form weight-only quantizers (MatMulNBits) work on, and the one
    the published exports have."""
    nodes = []
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type != "Gemm" or attrs.get("transA", 0) or attrs.get("transB", 0) \
                or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0:
            nodes.append(node)
            continue
        out = node.output[0]
        if len(node.input) > 2 and node.input[2]:
            nodes.append(helper.make_node("MatMul", list(node.input[:2]), [out + "_mm"], name=node.name + "_MatMul"))
            nodes.append(helper.make_node("Add", [out + "_mm", node.input[2]], [out], name=node.name + "_Add"))
        else:
            nodes.append(helper.make_node("MatMul", list(node.input[:2]), [out], name=node.name + "_MatMul"))
    del graph.node[:]
    graph.node.extend(nodes)


def resave_external(path):
    """Every tensor over 1 KiB in one `.onnx_data` beside the graph; the small shape constants stay
    inline, where shape inference can read them."""
    model = onnx.load(path)
    data = os.path.basename(path) + "_data"
    for f in os.listdir(os.path.dirname(path)):
        if f.startswith(os.path.basename(path)) and f != os.path.basename(path):
            os.remove(os.path.join(os.path.dirname(path), f))
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location=data, size_threshold=1024)


def export_language_model(torch, t3, path):
    from transformers import DynamicCache
    layers = t3.cfg.n_layer

    class LanguageModel(torch.nn.Module):
        """T3's backbone and speech head with the export's interface: the KV cache as tensors in and out."""

        def __init__(self):
            super().__init__()
            self.tfmr = t3.tfmr
            self.speech_head = t3.speech_head

        def forward(self, inputs_embeds, attention_mask, position_ids, past):
            cache = DynamicCache()
            for i in range(layers):
                cache.update(past[2 * i], past[2 * i + 1], i)
            out = self.tfmr(inputs_embeds=inputs_embeds, attention_mask=attention_mask, position_ids=position_ids,
                            past_key_values=cache, use_cache=True)
            presents = []
            for layer in out.past_key_values.layers[:layers]:
                presents += [layer.keys, layer.values]
            return (self.speech_head(out.last_hidden_state), *presents)

    past_names = [f"past_key_values.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]
    present_names = [f"present.{i}.{kv}" for i in range(layers) for kv in ("key", "value")]
    batch, seq, past = 1, 3, 5
    args = (torch.randn(batch, seq, 1024), torch.ones(batch, past + seq, dtype=torch.long),
            torch.arange(past, past + seq).unsqueeze(0), [torch.randn(batch, 16, past, 64) for _ in past_names])
    auto = torch.export.Dim.AUTO
    shapes = ({0: auto, 1: auto}, {0: auto, 1: auto}, {0: auto, 1: auto}, [{0: auto, 2: auto} for _ in past_names])
    program = torch.onnx.export(LanguageModel().eval(), args, input_names=["inputs_embeds", "attention_mask", "position_ids"] + past_names,
                                output_names=["logits"] + present_names, dynamic_shapes=shapes, opset_version=OPSET, dynamo=True,
                                verbose=False)
    program.save(path, external_data=True)

    def dims(name):
        if name == "inputs_embeds" or name == "logits":
            return ["batch_size", "sequence_length", None]
        if name == "attention_mask":
            return ["batch_size", "total_sequence_length"]
        if name == "position_ids":
            return ["batch_size", "sequence_length"]
        if name.startswith("past_key_values."):
            return ["batch_size", None, "past_sequence_length", None]
        if name.startswith("present."):
            return ["batch_size", None, "total_sequence_length", None]
        return None
    rename_dims(path, dims)
    resave_external(path)


def export_embed_tokens(torch, t3, path, placeholder):
    class EmbedTokens(torch.nn.Module):
        """T3's text and speech embeddings behind one input_ids, as Turbo's export reads it: the last two
        ids are speech tokens (the tokenizer template's two `<|endoftext|>` placeholders, read as
        start-of-speech 6561) through speech_emb, the others text through text_emb. A decode step's
        single id is a speech token."""

        def __init__(self):
            super().__init__()
            self.text_emb = t3.text_emb
            self.speech_emb = t3.speech_emb

        def forward(self, input_ids):
            text = self.text_emb(input_ids[:, :-2].clamp(0, self.text_emb.num_embeddings - 1))
            tail = input_ids[:, -2:]
            tail = torch.where(tail == placeholder, torch.full_like(tail, 6561), tail)
            speech = self.speech_emb(tail.clamp(0, self.speech_emb.num_embeddings - 1))
            return torch.cat([text, speech], dim=1)

    auto = torch.export.Dim.AUTO
    program = torch.onnx.export(EmbedTokens().eval(), (torch.tensor([[5, 7, 9, 11]]),), input_names=["input_ids"],
                                output_names=["inputs_embeds"], dynamic_shapes=({0: auto, 1: auto},), opset_version=OPSET,
                                dynamo=True, verbose=False)
    program.save(path, external_data=True)
    rename_dims(path, lambda name: ["batch_size", "sequence_length", None] if name in ("input_ids", "inputs_embeds") else None)
    resave_external(path)


class DenseBuilder:
    """Matched stand-ins with the onnx helper API: pre-norm residual MLP blocks (GELU as x·σ(1.702x))
    sized to a parameter budget, so a graph holds as many weights as the network it stands for."""

    def __init__(self, rng):
        self.rng = rng
        self.nodes = []
        self.inits = []
        self.params = 0
        self.n = 0

    def name(self, stem):
        self.n += 1
        return f"{stem}_{self.n}"

    def const(self, array, stem="c"):
        name = self.name(stem)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def weight(self, shape, scale=0.02, stem="w"):
        self.params += int(np.prod(shape))
        return self.const((self.rng.standard_normal(shape, dtype=np.float32) * scale).astype(np.float32), stem)

    def node(self, op, inputs, outputs=None, **attrs):
        outputs = outputs or [self.name(op.lower())]
        self.nodes.append(helper.make_node(op, inputs, outputs, **attrs))
        return outputs[0] if len(outputs) == 1 else outputs

    def linear(self, x, n_in, n_out, scale=0.02):
        y = self.node("MatMul", [x, self.weight((n_in, n_out), scale)])
        return self.node("Add", [y, self.weight((n_out,), 0.0, "b")])

    def layer_norm(self, x, width):
        gamma = self.const(np.ones(width, np.float32), "ln_g")
        beta = self.const(np.zeros(width, np.float32), "ln_b")
        self.params += 2 * width
        return self.node("LayerNormalization", [x, gamma, beta], axis=-1)

    def gelu(self, x):
        return self.node("Mul", [x, self.node("Sigmoid", [self.node("Mul", [x, self.const(np.array(1.702, np.float32))])])])

    def block(self, x, width, hidden):
        h = self.gelu(self.linear(self.layer_norm(x, width), width, hidden))
        return self.node("Add", [x, self.linear(h, hidden, width)])

    def stack(self, x, width, budget):
        """Blocks of hidden 4·width until `budget` parameters are spent (the last block narrower)."""
        full = 2 * width * 4 * width + 4 * width + 3 * width
        spent = 0
        while budget - spent >= full:
            x = self.block(x, width, 4 * width)
            spent += full
        hidden = (budget - spent - 3 * width) // (2 * width + 1)
        if hidden > 0:
            x = self.block(x, width, hidden)
        return x

    def save(self, path, name, inputs, outputs, props):
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        model = helper.make_model(graph, producer_name="voxserve-standin", opset_imports=[helper.make_operatorsetid("", OPSET)])
        model.ir_version = 9
        helper.set_model_props(model, {"voxserve.fixture": "chatterbox-standin", **props})
        onnx.checker.check_model(model)
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=os.path.basename(path) + "_data", size_threshold=1024)


def speech_encoder_standin(path, rng, budget):
    """Audio [1, N] at 24 kHz → the conditioning, at the token rate (25 Hz) like the S3 tokenizer.

    budget: parameters of the encoder networks (VoiceEncoder + CAMPPlus + S3Tokenizer), of T3CondEnc
    and of T3's speech_emb (the prompt tokens' embeddings)."""
    b = DenseBuilder(rng)
    width = 1280  # the S3 tokenizer's state width
    i64 = lambda v: b.const(np.array(v, dtype=np.int64))  # noqa: E731
    # The first 10 s, cut to whole tokens: frames of 960 samples.
    audio = b.node("Slice", ["audio_values", i64([0]), i64([MAX_REFERENCE]), i64([1])])
    n = b.node("Gather", [b.node("Shape", [audio]), i64(1)], axis=0)
    tokens_n = b.node("Div", [n, i64(TOKEN_SAMPLES)])
    whole = b.node("Mul", [tokens_n, i64(TOKEN_SAMPLES)])
    audio = b.node("Slice", [audio, i64([0]), b.node("Unsqueeze", [whole, i64([0])]), i64([1])])
    frames = b.node("Reshape", [audio, i64([1, -1, TOKEN_SAMPLES])])  # [1, P, 960]
    x = b.linear(frames, TOKEN_SAMPLES, width)
    speech_emb_rows, cond = 6563, 1024
    fixed = TOKEN_SAMPLES * width + width  # input projection
    fixed += width * 6561 + 6561  # token classifier (the quantizer's output)
    fixed += width * 256 + 256 + 256 * cond + cond  # speaker embedding for T3 (VoiceEncoder's 256), cond_enc
    fixed += width * 192 + 192  # x-vector (CAMPPlus's 192)
    fixed += width * 160 + 160  # speaker features: 2 mel frames of 80 per token
    fixed += speech_emb_rows * cond  # T3's speech_emb for the prompt tokens
    x = b.stack(x, width, budget - fixed - 2 * width)
    x = b.layer_norm(x, width)
    tokens = b.node("ArgMax", [b.linear(x, width, 6561)], ["audio_tokens"], axis=-1, keepdims=0)  # [1, P]
    pooled = b.node("ReduceMean", [x, i64([1])], keepdims=0)  # [1, width]
    b.node("Tanh", [b.linear(pooled, width, 192)], ["speaker_embeddings"])
    b.node("Reshape", [b.linear(x, width, 160), i64([1, -1, 80])], ["speaker_features"])  # [1, 2P, 80]
    voice = b.node("Tanh", [b.linear(pooled, width, 256)])
    speaker_row = b.node("Unsqueeze", [b.linear(voice, 256, cond), i64([1])])  # [1, 1, 1024]
    table = b.weight((speech_emb_rows, cond), 0.02, "speech_emb")
    prompt = b.node("Gather", [table, tokens])  # [1, P, 1024]
    b.node("Concat", [speaker_row, prompt], ["audio_features"], axis=1)
    f = TensorProto.FLOAT
    b.save(path, "speech_encoder",
           [helper.make_tensor_value_info("audio_values", f, ["batch_size", "num_samples"])],
           [helper.make_tensor_value_info("audio_features", f, ["batch_size", "cond_length", cond]),
            helper.make_tensor_value_info("audio_tokens", TensorProto.INT64, ["batch_size", "prompt_tokens"]),
            helper.make_tensor_value_info("speaker_embeddings", f, ["batch_size", 192]),
            helper.make_tensor_value_info("speaker_features", f, ["batch_size", "feature_dim", 80])],
           {"voxserve.standin": "matched"})
    return b.params


def conditional_decoder_standin(path, rng, flow_budget, hift_budget, encoder_share):
    """Speech tokens (prompt + new) → waveform of the new tokens, shaped like S3Gen: a flow encoder
    at the token rate, an estimator over 2 mel frames a token for 2 meanflow steps, then the prompt's
    frames dropped and a vocoder over 15 rows of 32 samples a mel frame (480 samples, 20 ms)."""
    b = DenseBuilder(rng)
    i64 = lambda v: b.const(np.array(v, dtype=np.int64))  # noqa: E731
    width, hift_width, rows = 512, 384, 15
    ids = b.node("Clip", ["speech_tokens", i64(0), i64(6560)])
    x = b.node("Gather", [b.weight((6561, width), 0.02, "input_embedding"), ids])  # [1, T, 512]
    speaker = b.linear("speaker_embeddings", 192, width)  # [1, 512]
    x = b.node("Add", [x, b.node("Unsqueeze", [speaker, i64([1])])])
    mean_feat = b.node("ReduceMean", ["speaker_features", i64([1])], keepdims=1)  # [1, 1, 80]
    x = b.node("Add", [x, b.linear(mean_feat, 80, width)])
    fixed_flow = 6561 * width + 192 * width + width + 80 * width + width + width * 2 * width + 2 * width + width * 80 + 80
    encoder_budget = int((flow_budget - fixed_flow) * encoder_share)
    x = b.stack(x, width, encoder_budget)
    x = b.node("Reshape", [b.linear(x, width, 2 * width), i64([1, -1, width])])  # [1, 2T, 512]: 2 mel frames a token
    estimator_budget = flow_budget - fixed_flow - encoder_budget
    first, before = len(b.nodes), b.params
    step = b.stack(x, width, estimator_budget)
    end = len(b.nodes)
    origin, x = x, b.node("Add", [x, step])
    # The second meanflow step runs the same estimator weights on the first step's output.
    renames = {o: o + "_step2" for nd in b.nodes[first:end] for o in nd.output}
    for nd in b.nodes[first:end]:
        copy = onnx.NodeProto()
        copy.CopyFrom(nd)
        for k, name in enumerate(copy.input):
            copy.input[k] = x if name == origin else renames.get(name, name)
        for k, name in enumerate(copy.output):
            copy.output[k] = renames[name]
        b.nodes.append(copy)
    assert b.params - before <= estimator_budget
    x = b.node("Add", [x, renames[step]])
    mel = b.linear(b.layer_norm(x, width), width, 80)  # [1, 2T, 80]
    b.params -= 2 * width  # that LayerNorm is the estimator's final norm, counted in its budget
    # The prompt's mel frames (as many as speaker_features has) carry no output.
    frames = b.node("Gather", [b.node("Shape", ["speaker_features"]), i64(1)], axis=0)
    mel = b.node("Slice", [mel, b.node("Unsqueeze", [frames, i64([0])]), i64([1 << 40]), i64([1])])
    # Vocoder: each mel frame → 15 rows → 32 samples each.
    h = b.node("Reshape", [b.linear(mel, 80, rows * hift_width), i64([1, -1, hift_width])])
    fixed_hift = 80 * rows * hift_width + rows * hift_width + hift_width * 32 + 32
    h = b.stack(h, hift_width, hift_budget - fixed_hift)
    wave = b.node("Tanh", [b.linear(h, hift_width, 32, scale=0.01)])
    wave = b.node("Reshape", [wave, i64([1, -1])])
    # Every call fades in its first 40 ms (20 ms of zeros, then a ramp), as S3Gen's trim_fade does.
    length = b.node("Gather", [b.node("Shape", [wave]), i64(1)], axis=0)
    idx = b.node("Cast", [b.node("Range", [i64(0), length, i64(1)])], to=TensorProto.FLOAT)
    trim = b.const(np.array(480.0, np.float32))
    fade = b.node("Clip", [b.node("Div", [b.node("Sub", [idx, trim]), trim]), b.const(np.array(0.0, np.float32)),
                           b.const(np.array(1.0, np.float32))])
    b.node("Mul", [wave, fade], ["waveform"])
    f = TensorProto.FLOAT
    b.save(path, "conditional_decoder",
           [helper.make_tensor_value_info("speech_tokens", TensorProto.INT64, ["batch_size", "num_speech_tokens"]),
            helper.make_tensor_value_info("speaker_embeddings", f, ["batch_size", 192]),
            helper.make_tensor_value_info("speaker_features", f, ["batch_size", "feature_dim", 80])],
           [helper.make_tensor_value_info("waveform", f, ["batch_size", "num_samples"])],
           {"voxserve.standin": "matched"})
    return b.params


def write_default_voice(path, seconds=10.0):
    """A synthetic voiced signal: a glottal-like pulse train with a wandering pitch through two
    formant-ish resonances, syllable-rate loudness, 16-bit mono at 24 kHz."""
    rng = np.random.default_rng(3)
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    f0 = 120 + 25 * np.sin(2 * np.pi * 0.7 * t) + 10 * np.sin(2 * np.pi * 3.1 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    voice = sum(np.sin(k * phase) / k ** 1.2 for k in range(1, 30))
    for formant, bw in ((700, 0.5), (1200, 0.3)):
        voice = voice + bw * np.sin(2 * np.pi * formant * t + phase)
    envelope = np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None) ** 0.6
    signal = voice * envelope + 0.01 * rng.standard_normal(n)
    signal = 0.3 * signal / np.max(np.abs(signal))
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((signal * 32767).astype("<i2").tobytes())


def quantize_variants(onnx_dir, names, q4_accuracy_level):
    """*_quantized.onnx (int8 weights, quantize_dynamic) and *_q4.onnx (MatMulNBits, 4 bits, block 32,
    symmetric; Gathers too, as GatherBlockQuantized). q4_accuracy_level is MatMulNBits' accuracy_level:
    4 computes with int8 activations (MLAS's fast path on CPU); 0 dequantizes to fp32 and is
    compute-bound on a small CPU, barely faster than fp32."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer").setLevel(logging.WARNING)
    for name in names:
        src = os.path.join(onnx_dir, name + ".onnx")
        start = time.monotonic()
        quantize_dynamic(src, os.path.join(onnx_dir, name + "_quantized.onnx"), weight_type=QuantType.QInt8,
                         use_external_data_format=True)
        resave_external(os.path.join(onnx_dir, name + "_quantized.onnx"))
        q4 = MatMulNBitsQuantizer(onnx.load(src), bits=4, block_size=32, is_symmetric=True, accuracy_level=q4_accuracy_level,
                                  op_types_to_quantize=("MatMul", "Gather"), quant_axes=(("MatMul", 0), ("Gather", 1)))
        q4.process()
        out = os.path.join(onnx_dir, name + "_q4.onnx")
        onnx.save_model(q4.model.model, out, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=os.path.basename(out) + "_data", size_threshold=1024)
        print(f"  {name}: int8 and q4 in {time.monotonic() - start:.0f} s", flush=True)


def check_graphs(onnx_dir, names):
    """Each graph loads and runs in ONNX Runtime on a 2 s reference and a short loop's shapes."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    for name in names:
        session = ort.InferenceSession(os.path.join(onnx_dir, name + ".onnx"), opts, providers=["CPUExecutionProvider"])
        feeds = {}
        for i in session.get_inputs():
            if i.name == "audio_values":
                feeds[i.name] = (np.sin(np.arange(2 * SAMPLE_RATE) / 20) * 0.2).astype(np.float32)[None]
            elif i.name in ("input_ids", "speech_tokens"):
                feeds[i.name] = np.array([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]], dtype=np.int64)
            elif i.name == "speaker_embeddings":
                feeds[i.name] = np.zeros((1, 192), np.float32)
            elif i.name == "speaker_features":
                feeds[i.name] = np.zeros((1, 10, 80), np.float32)
            elif i.name == "inputs_embeds":
                feeds[i.name] = np.zeros((1, 1, 1024), np.float32)
            elif i.name == "attention_mask":
                feeds[i.name] = np.ones((1, 4), np.int64)
            elif i.name == "position_ids":
                feeds[i.name] = np.array([[3]], np.int64)
            elif i.name.startswith("past_key_values."):
                feeds[i.name] = np.zeros((1, 16, 3, 64), np.float32)
        out = session.run(None, feeds)
        shapes = ", ".join(f"{o.name} {list(v.shape)}" for o, v in zip(session.get_outputs()[:3], out[:3]))
        print(f"  {name}: runs ({shapes})", flush=True)


def build_torch(root, quantize, q4_accuracy_level=4):
    import torch
    torch.manual_seed(11)
    T3, T3Config, S3Gen, VoiceEncoder = import_chatterbox()
    onnx_dir = os.path.join(root, "onnx")
    start = time.monotonic()
    t3 = turbo_t3(T3, T3Config)
    randomise_constants(torch, t3)
    s3gen = S3Gen(meanflow=True).eval()
    ve = VoiceEncoder().eval()
    counts = {
        "t3.tfmr (GPT2Model, no wte)": count(t3.tfmr), "t3.speech_head": count(t3.speech_head),
        "t3.text_emb": count(t3.text_emb), "t3.speech_emb": count(t3.speech_emb), "t3.cond_enc": count(t3.cond_enc),
        "VoiceEncoder": count(ve), "S3Gen.speaker_encoder (CAMPPlus)": count(s3gen.speaker_encoder),
        "S3Gen.tokenizer (S3TokenizerV2)": count(s3gen.tokenizer), "S3Gen.flow": count(s3gen.flow),
        "S3Gen.flow.encoder": count(s3gen.flow.encoder), "S3Gen.mel2wav (HiFTGenerator)": count(s3gen.mel2wav),
    }
    print(f"  classes built in {time.monotonic() - start:.0f} s", flush=True)
    tiny.write_turbo_tokenizer(root)
    with open(os.path.join(root, "tokenizer.json"), encoding="utf-8") as f:
        placeholder = next(t["id"] for t in json.load(f)["added_tokens"] if t["content"] == "<|endoftext|>")
    with torch.no_grad():
        export_language_model(torch, t3, os.path.join(onnx_dir, "language_model.onnx"))
        print(f"  language_model exported ({time.monotonic() - start:.0f} s)", flush=True)
        export_embed_tokens(torch, t3, os.path.join(onnx_dir, "embed_tokens.onnx"), placeholder)
        print(f"  embed_tokens exported ({time.monotonic() - start:.0f} s)", flush=True)
    rng = np.random.default_rng(11)
    encoder_target = (counts["VoiceEncoder"] + counts["S3Gen.speaker_encoder (CAMPPlus)"] + counts["S3Gen.tokenizer (S3TokenizerV2)"]
                      + counts["t3.cond_enc"] + counts["t3.speech_emb"])
    encoder_params = speech_encoder_standin(os.path.join(onnx_dir, "speech_encoder.onnx"), rng, encoder_target)
    decoder_target = counts["S3Gen.flow"] + counts["S3Gen.mel2wav (HiFTGenerator)"]
    decoder_params = conditional_decoder_standin(os.path.join(onnx_dir, "conditional_decoder.onnx"), rng, counts["S3Gen.flow"],
                                                 counts["S3Gen.mel2wav (HiFTGenerator)"],
                                                 counts["S3Gen.flow.encoder"] / counts["S3Gen.flow"])
    print(f"  speech_encoder and conditional_decoder built ({time.monotonic() - start:.0f} s)", flush=True)
    del t3, s3gen, ve
    names = ["speech_encoder", "embed_tokens", "language_model", "conditional_decoder"]
    if quantize:
        quantize_variants(onnx_dir, names, q4_accuracy_level)
    write_default_voice(os.path.join(root, "default_voice.wav"))
    lm = counts["t3.tfmr (GPT2Model, no wte)"] + counts["t3.speech_head"]
    embed = counts["t3.text_emb"] + counts["t3.speech_emb"]
    lines = [
        "# Chatterbox Turbo stand-ins",
        "",
        "Built by `make chatterbox-standin` (scripts/make_chatterbox_standin.py --backend torch) from chatterbox-tts",
        "0.1.7's classes with seeded random weights. Same layout, input/output names, element types and dynamic axes",
        "as ResembleAI/chatterbox-turbo-ONNX; the speech is noise, the cost is the real model's. Random weights never",
        "emit the stop token 6562: give the loop a token budget.",
        "",
        "| graph | how | parameters |",
        "| --- | --- | --- |",
        f"| language_model | exported (torch.onnx.export, dynamo) from T3.tfmr (GPT2Model, GPT-2 medium: 24 layers, 16 x 64, hidden 1024) + T3.speech_head | {lm:,} |",
        f"| embed_tokens | exported from T3.text_emb + T3.speech_emb (the last two ids speech, `<|endoftext|>` read as 6561; the rest text) | {embed:,} |",
        f"| speech_encoder | matched stand-in (onnx helper): dense blocks at 25 Hz holding the parameters of VoiceEncoder + CAMPPlus + S3TokenizerV2 + T3.cond_enc + T3.speech_emb ({encoder_target:,}) | {encoder_params:,} |",
        f"| conditional_decoder | matched stand-in (onnx helper): flow encoder, 2-step estimator and vocoder blocks holding the parameters of S3Gen.flow + S3Gen.mel2wav ({decoder_target:,}); ~0.7 GFLOP per token + 1.2 GFLOP per generated token, as measured on the torch classes | {decoder_params:,} |",
        "",
        "Parameter counts of the instantiated classes:",
        "",
    ] + [f"- {k}: {v:,}" for k, v in counts.items()] + [
        "",
        "Files: onnx/NAME.onnx (+ NAME.onnx_data: every tensor over 1 KiB), NAME_quantized.onnx (quantize_dynamic, int8"
        f" weights), NAME_q4.onnx (MatMulNBits, 4 bits, block 32, symmetric, accuracy_level {q4_accuracy_level}; Gathers as"
        " GatherBlockQuantized); tokenizer.json, vocab.json, merges.txt (the tiny Turbo fixture's"
        " GPT-2-style BPE); default_voice.wav (10 s synthetic voiced signal, 24 kHz, 16-bit).",
        "",
    ]
    with open(os.path.join(root, "STANDIN.md"), "w") as f:
        f.write("\n".join(lines))
    check_graphs(onnx_dir, names)
    print(f"chatterbox stand-in in {root}: language model {lm / 1e6:.1f} M parameters (exported), embed_tokens {embed / 1e6:.1f} M (exported), "
          f"speech_encoder {encoder_params / 1e6:.1f} M and conditional_decoder {decoder_params / 1e6:.1f} M (matched stand-ins), "
          f"{time.monotonic() - start:.0f} s")


def build_onnx(root, args):
    tiny.HIDDEN = args.hidden
    onnx_dir = os.path.join(root, "onnx")
    # The tiny embedder reads the tokenizer template's placeholder id, where it models Turbo's.
    placeholder = tiny.write_turbo_tokenizer(root)
    takes_placeholder = "placeholder" in inspect.signature(tiny.embed_tokens).parameters
    rng = np.random.default_rng(11)
    tiny.speech_encoder(os.path.join(onnx_dir, "speech_encoder.onnx"), rng)
    tiny.embed_tokens(os.path.join(onnx_dir, "embed_tokens.onnx"), rng, original=False,
                      **({"placeholder": placeholder} if takes_placeholder else {}))
    state = rng.bit_generator.state
    language_model(os.path.join(onnx_dir, "language_model.onnx"), rng, args.layers, args.hidden, half=False, stop_from=args.stop_from)
    rng.bit_generator.state = state
    language_model(os.path.join(onnx_dir, "language_model_fp16.onnx"), rng, args.layers, args.hidden, half=True, stop_from=args.stop_from)
    tiny.conditional_decoder(os.path.join(onnx_dir, "conditional_decoder.onnx"), rng)
    params = args.layers * 12 * args.hidden * args.hidden + (4096 + tiny.SPEECH_VOCAB) * args.hidden
    print(f"chatterbox stand-in in {root}: {args.layers} layers, hidden {args.hidden}, about {params / 1e6:.0f} M language-model parameters")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--backend", choices=("auto", "onnx", "torch"), default="auto",
                    help="torch: from chatterbox-tts's classes; onnx: numpy and onnx only; auto: torch where it imports")
    ap.add_argument("--layers", type=int, default=24, help="onnx backend: language-model layers")
    ap.add_argument("--hidden", type=int, default=1024, help="onnx backend: hidden size")
    ap.add_argument("--stop-from", type=int, default=STOP_FROM_POSITION,
                    help="onnx backend: the stop token wins from this position on (0: never)")
    ap.add_argument("--no-quantize", action="store_true", help="torch backend: skip the int8 and q4 variants")
    ap.add_argument("--q4-accuracy-level", type=int, default=4, choices=(0, 1, 2, 3, 4),
                    help="torch backend: MatMulNBits accuracy_level of the q4 variants (4: int8 compute, CPU's fast path)")
    args = ap.parse_args()
    backend = args.backend
    if backend == "auto":
        backend = "torch" if torch_available() else "onnx"
    root = args.out
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, "onnx"))
    if backend == "torch":
        build_torch(root, quantize=not args.no_quantize, q4_accuracy_level=args.q4_accuracy_level)
    else:
        build_onnx(root, args)


if __name__ == "__main__":
    main()
