#!/usr/bin/env python3
"""Chatterbox continuous batching through the server, with real concurrent HTTP clients.

For each precision: starts `voxserve serve` on a free loopback port with the Chatterbox export in
--model-dir, a fixed token budget per request (the hidden bench-only `--bench-max-new-tokens`: the
stand-ins' random weights never choose the stop token) and `--max-batch` / `--max-concurrent` at
the highest level; uploads the export's default_voice.wav as a cloned voice; warms up once; then
for each level N sends N one-sentence requests (POST /v1/audio/speech, response_format pcm,
streamed) one at a time (sequential), then N at once from N threads (batched). Prints, per level:

  chatterbox stand-in fp32 batch 4: 61.0 tokens/s vs 21.8 sequential, x2.80; time to first audio p95 0.9 s vs 0.6 s alone

tokens/s = tokens per request x requests / wall time; time to first audio = from sending the
request to the first audio byte, p95 over the batched requests vs over the sequential ones.

  scripts/bench-chatterbox-batch.py --bin .build/release/voxserve --model-dir .deps/chatterbox-standin \
      [--precisions fp32,q4] [--levels 1,2,4,8] [--tokens 50] [--label stand-in] [--provider cuda] [--json out.json]
"""
import argparse, http.client, json, math, os, shutil, socket, struct, subprocess, sys, tempfile, threading, time, uuid, wave

# One sentence each (a request is then exactly --tokens tokens), of different lengths so that the
# batch's rows have prompts of different lengths.
TEXTS = [
    "The meeting has been moved to three o'clock on Thursday afternoon.",
    "Please remember to bring the quarterly report.",
    "Text to speech servers turn written words into natural sounding audio for everyone who listens.",
    "It rained all night.",
    "A cloned voice reads this sentence aloud while seven others are being read at the same time.",
    "Good morning, and welcome back.",
    "The quick brown fox jumps over the lazy dog and runs into the forest.",
    "Batching shares each step of the language model between many listeners.",
]


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def wait_up(port, proc, timeout=600):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2); c.request("GET", "/v1/voices"); c.getresponse().read(); c.close(); return True
        except OSError:
            time.sleep(0.5)
    return False


def upload_voice(port, name, path):
    boundary = uuid.uuid4().hex
    with open(path, "rb") as f:
        audio = f.read()
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{name}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{os.path.basename(path)}\"\r\n"
            f"Content-Type: audio/wav\r\n\r\n").encode() + audio + f"\r\n--{boundary}--\r\n".encode()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    c.request("POST", "/v1/voices", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    r = c.getresponse(); data = r.read(); c.close()
    if r.status not in (200, 201):
        raise RuntimeError(f"voice upload: HTTP {r.status} {data[:300]!r}")


def speak(port, voice, text):
    """(time to first audio byte, total time, audio bytes) of one streamed request."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    body = json.dumps({"model": "chatterbox", "voice": voice, "input": text, "response_format": "pcm"}).encode()
    start = time.perf_counter()
    c.request("POST", "/v1/audio/speech", body, {"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        data = r.read(); c.close()
        raise RuntimeError(f"speech: HTTP {r.status} {data[:300]!r}")
    first = None
    total = 0
    while True:
        chunk = r.read1(65536) if hasattr(r, "read1") else r.read(65536)
        if not chunk:
            break
        if first is None:
            first = time.perf_counter() - start
        total += len(chunk)
    c.close()
    end = time.perf_counter() - start
    return (first if first is not None else end), end, total


def synthetic_voice(path, seconds=10, rate=24000):
    """A voiced, deterministic 16-bit signal (as ChatterboxEngine.warmUpSignal): for exports without a default_voice.wav."""
    frames = bytearray()
    for i in range(int(seconds * rate)):
        t = i / rate
        envelope = 0.5 + 0.5 * math.sin(2 * math.pi * 3 * t)
        voice = sum(math.sin(2 * math.pi * 140 * h * t) / h for h in range(1, 6))
        frames += struct.pack("<h", int(max(-1, min(1, 0.1 * envelope * voice)) * 32767))
    with wave.open(path, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate); w.writeframes(bytes(frames))


def p95(values):
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(0.95 * len(s)) - 1))]


def level(port, voice, n, tokens):
    texts = [TEXTS[i % len(TEXTS)] for i in range(n)]
    # Sequential: the same requests, one at a time.
    seq = []
    t0 = time.perf_counter()
    for text in texts:
        seq.append(speak(port, voice, text))
    seq_wall = time.perf_counter() - t0
    # Batched: n clients at once.
    results = [None] * n
    errors = []
    barrier = threading.Barrier(n)

    def client(i):
        try:
            barrier.wait()
            results[i] = speak(port, voice, texts[i])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    t0 = time.perf_counter()
    for t in threads: t.start()
    for t in threads: t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"batch {n}: {errors[0]}")
    return {
        "streams": n, "tokens_per_request": tokens,
        "batched_tokens_per_second": tokens * n / wall, "sequential_tokens_per_second": tokens * n / seq_wall,
        "speedup": seq_wall / wall,
        "batched_first_audio_p95": p95([r[0] for r in results]), "alone_first_audio_p95": p95([r[0] for r in seq]),
        "batched_first_audio": [r[0] for r in results], "alone_first_audio": [r[0] for r in seq],
        "batched_wall": wall, "sequential_wall": seq_wall,
        "audio_bytes": sum(r[2] for r in results),
    }


def line(label, precision, r):
    return (f"chatterbox {label} {precision} batch {r['streams']}: {r['batched_tokens_per_second']:.1f} tokens/s vs "
            f"{r['sequential_tokens_per_second']:.1f} sequential, x{r['speedup']:.2f}; time to first audio p95 "
            f"{r['batched_first_audio_p95']:.1f} s vs {r['alone_first_audio_p95']:.1f} s alone")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--precisions", default="fp32,q4")
    ap.add_argument("--levels", default="1,2,4,8")
    ap.add_argument("--tokens", type=int, default=50)
    ap.add_argument("--label", default="stand-in")
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (default: planned)")
    ap.add_argument("--provider", help="cpu or cuda (default: planned)")
    ap.add_argument("--json")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    scratch = tempfile.mkdtemp(prefix="voxserve-batchbench-")
    try:
        return run(args, levels, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run(args, levels, scratch):
    voice_file = os.path.join(args.model_dir, "default_voice.wav")
    if not os.path.exists(voice_file):
        voice_file = os.path.join(scratch, "voice.wav")
        synthetic_voice(voice_file)
    out = {"label": args.label, "model_dir": args.model_dir, "tokens": args.tokens, "precisions": {}}
    for precision in args.precisions.split(","):
        home = os.path.join(scratch, precision)
        os.makedirs(home)
        port = free_port()
        env = dict(os.environ, VOXSERVE_HOME=home, VOXSERVE_CHATTERBOX_DIR=args.model_dir)
        top = max(levels)
        cmd = [args.bin, "serve", "--port", str(port), "--precision", precision, "--max-batch", str(top),
               "--max-concurrent", str(top), "--max-queue", "64", "--timeout", "900", "--bench-max-new-tokens", str(args.tokens)]
        if args.provider:
            cmd += ["--provider", args.provider]
        log = open(os.path.join(home, "serve.log"), "w")
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            if not wait_up(port, proc):
                raise RuntimeError(f"voxserve serve did not come up: {open(os.path.join(home, 'serve.log')).read()[-1500:]}")
            upload_voice(port, "benchvoice", voice_file)
            speak(port, "benchvoice", TEXTS[0])  # warm: conditioning cached, sessions loaded
            rows = []
            for n in levels:
                r = level(port, "benchvoice", n, args.tokens)
                r["line"] = line(args.label, precision, r)  # the report quotes it as printed
                rows.append(r)
                print(r["line"], flush=True)
            out["precisions"][precision] = rows
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
