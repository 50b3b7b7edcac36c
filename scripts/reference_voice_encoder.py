#!/usr/bin/env python3
"""Reference speaker encoder (Resemblyzer / Chatterbox `ve`) in numpy only.

Used by the Swift tests as an independent check of VoiceEncoder. It reads
Resemblyzer's pretrained.pt itself (torch's legacy, non-zip serialization) with
Python's pickle module, computes the mel front end with numpy's FFT and runs the
3-layer LSTM in float64.

  reference_voice_encoder.py embed --weights pretrained.pt --audio clip.f32 \
      [--variant resemblyzer|chatterbox] [--normalize-volume]
      -> prints {"embedding": [...256 floats...], "partials": N, "samples": S} as JSON

  reference_voice_encoder.py describe --weights pretrained.pt
      -> prints {name: {"shape": [...], "sum": float, "first": [up to 4 floats]}} for the state dict

  reference_voice_encoder.py export-safetensors --weights pretrained.pt --out ve.safetensors \
      [--dtype F32|F16] [--names resemblyzer|chatterbox]
      -> writes the model's tensors as a safetensors file

The audio file is raw little-endian float32, mono, 16 kHz.
"""

import argparse
import collections
import json
import pickle
import struct
import sys

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 40
PARTIAL_FRAMES = 160
RATE = 1.3

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("u1"),
}


# --- torch legacy checkpoint ---------------------------------------------------------------

class _StorageType:
    def __init__(self, name):
        self.name = name


class _StorageRef:
    def __init__(self, key, dtype, view_offset=0):
        self.key = key
        self.dtype = dtype
        self.view_offset = view_offset


class _TensorRef:
    def __init__(self, storage, offset, size, stride):
        self.storage = storage
        self.offset = offset
        self.size = tuple(size)
        self.stride = tuple(stride)


def _rebuild_tensor(storage, storage_offset, size, stride, *_rest):
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data, *_rest):
    return data


class _CheckpointUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise pickle.UnpicklingError("unexpected global %s.%s" % (module, name))

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel[, view_metadata])
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError("unexpected persistent id %r" % (pid,))
        storage_type, key = pid[1], pid[2]
        view = pid[5] if len(pid) > 5 else None
        offset = view[1] if view else 0
        return _StorageRef(key, STORAGE_DTYPES[storage_type.name], offset)


def load_torch_legacy(path):
    """Returns {name: float64 ndarray} for the checkpoint's state dict."""
    with open(path, "rb") as f:
        magic = pickle.load(f)
        if magic != LEGACY_MAGIC:
            raise ValueError("not a legacy torch file (magic %r)" % (magic,))
        protocol = pickle.load(f)
        if protocol != LEGACY_PROTOCOL:
            raise ValueError("unsupported legacy protocol %r" % (protocol,))
        pickle.load(f)  # sys info
        obj = _CheckpointUnpickler(f).load()
        keys = pickle.load(f)
        storages = {}
        dtypes = {}

        def collect(o):
            if isinstance(o, _TensorRef):
                dtypes[o.storage.key] = o.storage.dtype
            elif isinstance(o, dict):
                for v in o.values():
                    collect(v)
            elif isinstance(o, (list, tuple)):
                for v in o:
                    collect(v)

        collect(obj)
        for key in keys:
            (count,) = struct.unpack("<q", f.read(8))
            if key not in dtypes:
                raise ValueError("storage %s is listed but no tensor uses it; its element size is unknown" % key)
            dtype = dtypes[key]
            raw = f.read(count * dtype.itemsize)
            if len(raw) != count * dtype.itemsize:
                raise ValueError("storage %s is truncated" % key)
            storages[key] = np.frombuffer(raw, dtype=dtype)

    state = obj
    if isinstance(obj, dict):
        for candidate in ("model_state", "state_dict"):
            if isinstance(obj.get(candidate), dict):
                state = obj[candidate]
                break
    tensors = {}
    for name, ref in state.items():
        if not isinstance(ref, _TensorRef):
            continue
        flat = storages[ref.storage.key]
        start = ref.storage.view_offset + ref.offset
        index = np.full(ref.size, start, dtype=np.int64)
        for axis, (n, s) in enumerate(zip(ref.size, ref.stride)):
            shape = [1] * len(ref.size)
            shape[axis] = n
            index = index + (np.arange(n, dtype=np.int64) * s).reshape(shape)
        tensors[name] = flat[index].astype(np.float64)
    return tensors


def export_safetensors(tensors, out_path, dtype, names):
    rename = {}
    if names == "chatterbox":
        rename = {"linear.weight": "proj.weight", "linear.bias": "proj.bias"}
    np_dtype = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2")}[dtype]
    header = {"__metadata__": {"format": "pt", "source": "reference_voice_encoder.py"}}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name].astype(np_dtype))
        data = array.tobytes()
        header[rename.get(name, name)] = {
            "dtype": dtype,
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    header_bytes = json.dumps(header).encode("utf-8")
    header_bytes += b" " * ((8 - len(header_bytes) % 8) % 8)
    with open(out_path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for blob in blobs:
            f.write(blob)


# --- mel front end ---------------------------------------------------------------------------

def _hz_to_mel_slaney(f):
    f = np.asarray(f, dtype=np.float64)
    linear = f / (200.0 / 3.0)
    logstep = np.log(6.4) / 27.0
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / logstep, linear)


def _mel_to_hz_slaney(m):
    m = np.asarray(m, dtype=np.float64)
    logstep = np.log(6.4) / 27.0
    return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), m * (200.0 / 3.0))


def _hz_to_mel_htk(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz_htk(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(scale, slaney_norm):
    """(N_MELS, N_FFT//2+1) triangular filters between 0 Hz and Nyquist."""
    to_mel, to_hz = (_hz_to_mel_slaney, _mel_to_hz_slaney) if scale == "slaney" else (_hz_to_mel_htk, _mel_to_hz_htk)
    bins = np.linspace(0.0, SAMPLE_RATE / 2.0, N_FFT // 2 + 1)
    edges = to_hz(np.linspace(to_mel(0.0), to_mel(SAMPLE_RATE / 2.0), N_MELS + 2))
    fb = np.zeros((N_MELS, bins.size))
    for m in range(N_MELS):
        left, center, right = edges[m], edges[m + 1], edges[m + 2]
        rising = (bins - left) / (center - left)
        falling = (right - bins) / (right - center)
        fb[m] = np.maximum(0.0, np.minimum(rising, falling))
        if slaney_norm:
            fb[m] *= 2.0 / (right - left)
    return fb


def power_spectrogram(wav, pad_mode):
    """(frames, N_FFT//2+1) |STFT|^2, centred frames, periodic Hann window."""
    half = N_FFT // 2
    if pad_mode == "reflect":
        padded = np.pad(wav, (half, half), mode="reflect")
    else:
        padded = np.pad(wav, (half, half), mode="constant")
    n_frames = 1 + (len(padded) - N_FFT) // HOP
    window = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)
    idx = np.arange(N_FFT)[None, :] + HOP * np.arange(n_frames)[:, None]
    spectrum = np.fft.rfft(padded[idx] * window[None, :], axis=1)
    return spectrum.real ** 2 + spectrum.imag ** 2


# --- partials -------------------------------------------------------------------------------

def frame_step():
    return int(np.round((SAMPLE_RATE / RATE) / HOP))


def resemblyzer_partials(wav, min_coverage):
    """Pads the waveform as Resemblyzer does, returns (mel (T, M), [start frames])."""
    step = frame_step()
    n_samples = len(wav)
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    starts = list(range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step))
    last_start_sample = starts[-1] * HOP
    coverage = (n_samples - last_start_sample) / (PARTIAL_FRAMES * HOP)
    if coverage < min_coverage and len(starts) > 1:
        starts = starts[:-1]
    needed = (starts[-1] + PARTIAL_FRAMES) * HOP
    if needed >= n_samples:
        wav = np.concatenate([wav, np.zeros(needed - n_samples)])
    mel = power_spectrogram(wav, "constant") @ mel_filterbank("slaney", True).T
    return mel, starts


def chatterbox_partials(wav, min_coverage):
    """Chatterbox computes the mel first and pads or trims the mel frames. Its melspec.py calls
    librosa.filters.mel with the defaults (Slaney scale, norm="slaney") and librosa.stft with
    center=True, pad_mode="reflect"; power 2, no log."""
    step = frame_step()
    mel = power_spectrogram(wav, "reflect") @ mel_filterbank("slaney", True).T
    n_frames = mel.shape[0]
    n_wins, remainder = divmod(max(n_frames - PARTIAL_FRAMES + step, 0), step)
    if n_wins == 0 or (remainder + (PARTIAL_FRAMES - step)) / PARTIAL_FRAMES >= min_coverage:
        n_wins += 1
    target = PARTIAL_FRAMES + step * (n_wins - 1)
    if target > n_frames:
        mel = np.concatenate([mel, np.zeros((target - n_frames, N_MELS))])
    return mel[:target], [i * step for i in range(n_wins)]


# --- network --------------------------------------------------------------------------------

def _sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def lstm_last_hidden(weights, x):
    """x: (batch, time, 40). Returns the last layer's final hidden state (batch, 256)."""
    seq = x
    for layer in range(3):
        w_ih = weights["lstm.weight_ih_l%d" % layer]
        w_hh = weights["lstm.weight_hh_l%d" % layer]
        bias = weights["lstm.bias_ih_l%d" % layer] + weights["lstm.bias_hh_l%d" % layer]
        hidden = w_hh.shape[1]
        batch, steps, _ = seq.shape
        h = np.zeros((batch, hidden))
        c = np.zeros((batch, hidden))
        projected = seq @ w_ih.T + bias
        outputs = np.zeros((batch, steps, hidden))
        for t in range(steps):
            gates = projected[:, t, :] + h @ w_hh.T
            i = _sigmoid(gates[:, 0:hidden])
            f = _sigmoid(gates[:, hidden:2 * hidden])
            g = np.tanh(gates[:, 2 * hidden:3 * hidden])
            o = _sigmoid(gates[:, 3 * hidden:4 * hidden])
            c = f * c + i * g
            h = o * np.tanh(c)
            outputs[:, t, :] = h
        seq = outputs
    return seq[:, -1, :]


def embed(weights, wav, variant):
    if variant == "chatterbox":
        mel, starts = chatterbox_partials(wav, 0.8)
    else:
        mel, starts = resemblyzer_partials(wav, 0.75)
    batch = np.stack([mel[s:s + PARTIAL_FRAMES] for s in starts])
    last = lstm_last_hidden(weights, batch)
    raw = np.maximum(last @ weights["linear.weight"].T + weights["linear.bias"], 0.0)
    partial = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    mean = partial.mean(axis=0)
    return mean / np.linalg.norm(mean), len(starts)


def normalize_volume(wav, target_dbfs=-30.0):
    """Resemblyzer's rule: raise the RMS level to target_dbfs, never lower it."""
    rms = np.sqrt(np.mean(wav ** 2))
    change = target_dbfs - 20.0 * np.log10(rms)
    return wav if change < 0 else wav * (10.0 ** (change / 20.0))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p_embed = sub.add_parser("embed")
    p_embed.add_argument("--weights", required=True)
    p_embed.add_argument("--audio", required=True)
    p_embed.add_argument("--variant", choices=["resemblyzer", "chatterbox"], default="resemblyzer")
    p_embed.add_argument("--normalize-volume", action="store_true")
    p_describe = sub.add_parser("describe")
    p_describe.add_argument("--weights", required=True)
    p_export = sub.add_parser("export-safetensors")
    p_export.add_argument("--weights", required=True)
    p_export.add_argument("--out", required=True)
    p_export.add_argument("--dtype", choices=["F32", "F16"], default="F32")
    p_export.add_argument("--names", choices=["resemblyzer", "chatterbox"], default="resemblyzer")
    args = parser.parse_args(argv)

    weights = load_torch_legacy(args.weights)
    if args.command == "describe":
        summary = {
            name: {"shape": list(t.shape), "sum": float(t.sum()), "first": [float(v) for v in t.reshape(-1)[:4]]}
            for name, t in weights.items()
        }
        json.dump(summary, sys.stdout)
        sys.stdout.write("\n")
        return 0
    if args.command == "export-safetensors":
        export_safetensors(weights, args.out, args.dtype, args.names)
        return 0
    wav = np.fromfile(args.audio, dtype="<f4").astype(np.float64)
    if args.normalize_volume:
        wav = normalize_volume(wav)
    embedding, partials = embed(weights, wav, args.variant)
    json.dump({"embedding": [float(v) for v in embedding], "partials": partials, "samples": int(len(wav))}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
