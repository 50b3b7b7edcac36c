#!/usr/bin/env python3
"""The Chatterbox Turbo ONNX model card's Python generation loop, timed: what people run, as the peer
VoxServe's Chatterbox engine is measured against (on the same graphs).

speech_encoder on the reference (24 kHz mono float32); the tokenizer's ids for the text; embed_tokens;
then one language_model run a step with inputs_embeds, attention_mask, position_ids and every
past_key_values.* passed as numpy arrays (each step's outputs become the next step's feeds, as the
card does), sampling in numpy (temperature 0.8, top-k 1000, top-p 0.95, then repetition penalty 1.2,
chatterbox-tts's Turbo order; or --greedy: the penalty then argmax, as the card); for
--tokens steps (random-weight stand-ins never stop) or until the stop token 6562; then
conditional_decoder once on prompt tokens + generated tokens + three 4299 silence tokens.

Usage (in .deps/standin-venv, after `make chatterbox-standin`):
  chatterbox_reference_loop.py [--model-dir .deps/chatterbox-standin] [--precision fp32|int8|q4]
      [--threads N] [--reference WAV] [--text TEXT] [--tokens N] [--runs N] [--greedy] [--json OUT]

Prints and writes (--json) per-token ms (decode steps only: mean, and each run's), prefill ms (step
0: conditioning + text), decoder ms, time to first audio (start until the whole utterance is decoded,
as the card produces audio), total, audio seconds, RTF and peak RSS (ru_maxrss, MiB).
"""
import argparse
import json
import os
import resource
import sys
import time
import wave

import numpy as np
import onnxruntime as ort

START_SPEECH = 6561
STOP_SPEECH = 6562
SILENCE = 4299
SAMPLE_RATE = 24000
SUFFIX = {"fp32": "", "int8": "_quantized", "q4": "_q4"}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_wav(path):
    """Mono float32 at 24 kHz (16-bit PCM; other rates resampled linearly)."""
    with wave.open(path, "rb") as w:
        channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        data = w.readframes(w.getnframes())
    if width != 2:
        sys.exit(f"{path}: only 16-bit PCM WAV is read here")
    audio = np.frombuffer(data, dtype="<i2").astype(np.float32).reshape(-1, channels).mean(axis=1) / 32768
    if rate != SAMPLE_RATE:
        n = int(len(audio) * SAMPLE_RATE / rate)
        audio = np.interp(np.arange(n) * rate / SAMPLE_RATE, np.arange(len(audio)), audio).astype(np.float32)
    return audio


def tokenize(model_dir, text):
    """The tokenizer's ids: Hugging Face `tokenizers` where installed, else the tiny fixture's reference BPE."""
    try:
        from tokenizers import Tokenizer
        return Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json")).encode(text).ids
    except ImportError:
        sys.path.insert(0, os.path.join(ROOT, "scripts"))
        import make_chatterbox_test_models as tiny
        with open(os.path.join(model_dir, "tokenizer.json"), encoding="utf-8") as f:
            spec = json.load(f)
        vocab = spec["model"]["vocab"]
        ranks = {tuple(m if isinstance(m, list) else m.split(" ")): r for r, m in enumerate(spec["model"]["merges"])}
        added = {t["content"]: t["id"] for t in spec["added_tokens"]}
        prefix, suffix = template(spec.get("post_processor"))
        return prefix + tiny.byte_level_encode(text, vocab, ranks, added) + suffix


def template(processor):
    """The special ids a `tokenizers` post-processor puts before and after a single sequence
    (TemplateProcessing, possibly inside a Sequence), as `tokenizers` itself would."""
    if not processor:
        return [], []
    if processor.get("type") == "Sequence":
        prefix, suffix = [], []
        for inner in processor.get("processors", []):
            p, s = template(inner)
            prefix, suffix = prefix + p, suffix + s
        return prefix, suffix
    if processor.get("type") != "TemplateProcessing":
        return [], []
    prefix, suffix, seen = [], [], False
    for item in processor["single"]:
        if "Sequence" in item:
            seen = True
        else:
            ids = processor["special_tokens"][item["SpecialToken"]["id"]]["ids"]
            (suffix if seen else prefix).extend(ids)
    return prefix, suffix


def peak_rss_mib():
    """VmHWM of this process (ru_maxrss would report the parent's peak: Linux keeps it across exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def repetition_penalty(logits, generated, penalty):
    """transformers' RepetitionPenaltyLogitsProcessor, in numpy."""
    logits = logits.copy()
    score = np.take_along_axis(logits, generated, axis=1)
    score = np.where(score < 0, score * penalty, score / penalty)
    np.put_along_axis(logits, generated, score, axis=1)
    return logits


def sample(logits, generated, rng, args):
    """chatterbox-tts's Turbo order (T3.inference_turbo's LogitsProcessorList): temperature, top-k,
    top-p, then the repetition penalty, softmax and a draw. logits: [1, vocab]."""
    logits = logits / args.temperature
    k = min(args.top_k, logits.shape[-1])
    kth = np.partition(logits[0], -k)[-k]
    logits = np.where(logits < kth, -np.inf, logits)
    order = np.argsort(logits[0])  # ascending, as TopPLogitsWarper
    probs = np.exp(logits[0, order] - logits[0, order[-1]])
    cumulative = np.cumsum(probs / probs.sum())
    remove = cumulative <= 1 - args.top_p
    remove[-1] = False  # keep at least one
    logits[0, order[remove]] = -np.inf
    logits = repetition_penalty(logits, generated, args.repetition_penalty)
    probs = np.exp(logits[0] - logits[0].max())
    probs /= probs.sum()
    return int(rng.choice(len(probs), p=probs))


def session(path, threads):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def generate(sessions, audio, text_ids, args, rng):
    speech_encoder, embed_tokens, language_model, decoder = sessions
    timings = {"steps_ms": []}
    start = time.perf_counter()
    input_ids = np.array([text_ids], dtype=np.int64)
    generate_tokens = np.array([[START_SPEECH]], dtype=np.int64)
    kv_inputs = [i for i in language_model.get_inputs() if "past_key_values" in i.name]
    # Exports made with recent transformers also take num_logits_to_keep (only the last position's logits).
    extra = {"num_logits_to_keep": np.array(1, dtype=np.int64)} if any(
        i.name == "num_logits_to_keep" for i in language_model.get_inputs()) else {}
    for step in range(args.tokens + 1):
        t0 = time.perf_counter()
        inputs_embeds = embed_tokens.run(None, {"input_ids": input_ids})[0]
        if step == 0:
            cond_emb, prompt_token, speaker_embeddings, speaker_features = speech_encoder.run(None, {"audio_values": audio[None, :]})
            inputs_embeds = np.concatenate((cond_emb, inputs_embeds), axis=1)
            batch_size, seq_len, _ = inputs_embeds.shape
            past_key_values = {
                i.name: np.zeros([batch_size, i.shape[1], 0, i.shape[3]], dtype=np.float16 if i.type == "tensor(float16)" else np.float32)
                for i in kv_inputs
            }
            attention_mask = np.ones((batch_size, seq_len), dtype=np.int64)
            position_ids = np.arange(seq_len, dtype=np.int64).reshape(1, -1).repeat(batch_size, axis=0)
        logits, *present_key_values = language_model.run(None, dict(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            **past_key_values,
            **extra,
        ))
        logits = logits[:, -1, :].astype(np.float32)
        if args.greedy:  # the model card: the penalty, then argmax
            token = int(np.argmax(repetition_penalty(logits, generate_tokens, args.repetition_penalty)[0]))
        else:
            token = sample(logits, generate_tokens, rng, args)
        input_ids = np.array([[token]], dtype=np.int64)
        generate_tokens = np.concatenate((generate_tokens, input_ids), axis=-1)
        elapsed = (time.perf_counter() - t0) * 1000
        if step == 0:
            timings["prefill_ms"] = elapsed
        else:
            timings["steps_ms"].append(elapsed)
        if token == STOP_SPEECH or step == args.tokens:
            break
        attention_mask = np.concatenate([attention_mask, np.ones((batch_size, 1), dtype=np.int64)], axis=1)
        position_ids = position_ids[:, -1:] + 1
        for j, key in enumerate(past_key_values):
            past_key_values[key] = present_key_values[j]

    speech_tokens = generate_tokens[:, 1:]
    speech_tokens = speech_tokens[speech_tokens < START_SPEECH].reshape(1, -1)  # without the stop token
    timings["generated_tokens"] = int(speech_tokens.shape[1])
    timings["token_ids"] = [int(t) for t in speech_tokens[0]]
    speech_tokens = np.concatenate([prompt_token, speech_tokens, np.full((1, 3), SILENCE, dtype=np.int64)], axis=1)
    t0 = time.perf_counter()
    wav = decoder.run(None, dict(speech_tokens=speech_tokens, speaker_embeddings=speaker_embeddings,
                                 speaker_features=speaker_features))[0]
    end = time.perf_counter()
    timings["decoder_ms"] = (end - t0) * 1000
    timings["first_audio_ms"] = (end - start) * 1000
    timings["total_ms"] = (end - start) * 1000
    timings["audio_seconds"] = wav.shape[-1] / SAMPLE_RATE
    return timings


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-dir", default=os.path.join(ROOT, ".deps/chatterbox-standin"))
    ap.add_argument("--precision", choices=sorted(SUFFIX), default="fp32")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--reference", help="24 kHz mono WAV (default: the model folder's default_voice.wav)")
    ap.add_argument("--text", default="Hello there, this is a test of the Chatterbox Turbo reference loop.")
    ap.add_argument("--tokens", type=int, default=100, help="decode steps after the first (the stop token ends sooner)")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--greedy", action="store_true", help="argmax after the repetition penalty")
    ap.add_argument("--repetition-penalty", type=float, default=1.2)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--top-k", type=int, default=1000)
    ap.add_argument("--top-p", type=float, default=0.95)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()

    onnx_dir = os.path.join(args.model_dir, "onnx")
    suffix = SUFFIX[args.precision]
    load_start = time.perf_counter()
    sessions = [session(os.path.join(onnx_dir, f"{name}{suffix}.onnx"), args.threads)
                for name in ("speech_encoder", "embed_tokens", "language_model", "conditional_decoder")]
    load_s = time.perf_counter() - load_start
    audio = read_wav(args.reference or os.path.join(args.model_dir, "default_voice.wav"))
    text_ids = tokenize(args.model_dir, args.text)
    rng = np.random.default_rng(args.seed)
    runs = [generate(sessions, audio, text_ids, args, rng) for _ in range(args.runs)]

    per_run = [float(np.mean(r["steps_ms"])) if r["steps_ms"] else 0.0 for r in runs]
    mean = lambda key: float(np.mean([r[key] for r in runs]))  # noqa: E731
    result = {
        "model_dir": os.path.abspath(args.model_dir), "precision": args.precision, "threads": args.threads,
        "tokens": args.tokens, "runs": args.runs, "greedy": args.greedy, "text_ids": len(text_ids),
        "load_s": load_s,
        "per_token_ms": float(np.mean(per_run)), "per_token_ms_runs": per_run,
        "prefill_ms": mean("prefill_ms"), "decoder_ms": mean("decoder_ms"),
        "first_audio_ms": mean("first_audio_ms"), "total_ms": mean("total_ms"),
        "generated_tokens": runs[-1]["generated_tokens"], "audio_seconds": runs[-1]["audio_seconds"],
        "rtf": mean("total_ms") / 1000 / runs[-1]["audio_seconds"] if runs[-1]["audio_seconds"] else None,
        "peak_rss_mib": peak_rss_mib(),
        "token_ids": runs[-1]["token_ids"],
    }
    print(f"{args.precision}, {args.threads} threads, {result['generated_tokens']} tokens: "
          f"{result['per_token_ms']:.1f} ms/token (runs: {', '.join(f'{v:.1f}' for v in per_run)}), "
          f"prefill {result['prefill_ms']:.0f} ms, decoder {result['decoder_ms']:.0f} ms, "
          f"first audio {result['first_audio_ms'] / 1000:.2f} s, total {result['total_ms'] / 1000:.2f} s, "
          f"{result['audio_seconds']:.2f} s of audio, RTF {result['rtf']:.2f}, peak RSS {result['peak_rss_mib']:.0f} MiB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
