#!/usr/bin/env python3
"""The GPU half of `make gpu-check` (scripts/gpu-check.sh runs it once it has found a GPU).

Standard library only: it drives the voxserve binary as a user would and judges what it reports.
Each step prints what it measured; the last line is `GPUCHECK RESULT: PASS` or
`GPUCHECK RESULT: FAIL` followed by the failures. The whole run is held under 8 minutes.
"""
import argparse
import concurrent.futures
import json
import math
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import wave

# 8 minutes from when gpu-check.sh started (stand-in generation included), less a margin.
BUDGET_SECONDS = 470 - max(0, time.time() - float(os.environ.get("GPUCHECK_T0", time.time())))
START = time.monotonic()
failures = []
notes = []
# --cpu-dry-run: the same steps with CUDA replaced by the CPU, to test this script on a machine
# without a GPU (the CUDA-only judgements are skipped and say so).
GPU = "cuda"


def left():
    return BUDGET_SECONDS - (time.monotonic() - START)


def step(title):
    print(f"\n== {title} ({time.monotonic() - START:.0f} s)", flush=True)


def fail(message):
    failures.append(message)
    print(f"  FAIL {message}", flush=True)


def ok(message):
    print(f"  ok   {message}", flush=True)


def run(args, env, timeout=120):
    timeout = max(5, min(timeout, left()))
    try:
        p = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return 124, "", f"timed out after {timeout:.0f} s"


def wav_frames(path):
    with wave.open(path, "rb") as w:
        return w.getnframes(), w.getframerate()


def write_reference(path, seconds=7.0, rate=24000):
    """A voiced-sounding reference: a 140 Hz harmonic series with vibrato and a syllable envelope."""
    frames = bytearray()
    for i in range(int(seconds * rate)):
        t = i / rate
        f = 140 * (1 + 0.03 * math.sin(2 * math.pi * 5 * t))
        env = 0.5 + 0.5 * math.sin(2 * math.pi * 4 * t)
        v = 0.3 * env * (math.sin(2 * math.pi * f * t) + 0.4 * math.sin(4 * math.pi * f * t))
        frames += struct.pack("<h", int(max(-1, min(1, v)) * 32767))
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(frames))


def timings(stdout):
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{") and "firstAudio" in line:
            return json.loads(line)
    return None


def check_doctor(bin_, env):
    step("doctor --json, CUDA forced: the default voice on CUDA, no fallback, where its nodes run")
    code, out, err = run([bin_, "doctor", "--json"], dict(env, VOXSERVE_PROVIDER=GPU), timeout=180)
    try:
        report = json.loads(out)
    except ValueError:
        fail(f"doctor --json printed no JSON (exit {code}): {err[-400:]}")
        return
    gpu = report.get("gpu", {})
    for device in gpu.get("devices", []):
        print(f"  GPU {device.get('index')}: {device.get('name')} cc {device['computeCapability']['major']}.{device['computeCapability']['minor']}"
              f", CUDA device {device.get('cudaDeviceID')}, PCI {device.get('pciBusID')}")
    runtime = report.get("gpuRuntime", {})
    print(f"  GPU build: {runtime.get('libraryPath')} active={runtime.get('active')} CUDA libraries loaded={runtime.get('cudaLibrariesLoaded')}")
    print(f"  kernels: {' '.join(runtime.get('architectures') or ['not read'])}")
    if GPU != "cuda":
        print("  (dry run on the CPU: GPU build, placement and CUDA judgements skipped)")
    elif not runtime.get("active"):
        fail("the GPU build of ONNX Runtime is not the one loaded")
    if GPU == "cuda" and runtime.get("cudaLibrariesLoaded") is not True:
        fail(f"the CUDA libraries did not load: {runtime.get('error')}")
    plans = [p for p in report.get("plans", []) if p.get("live")]
    if not plans:
        fail(f"doctor did not run the default voice: {report.get('verdict')}")
        return
    live = plans[0]["live"]
    active = live["plan"]["entries"][live["activeEntryIndex"]] if live.get("activeEntryIndex") is not None else None
    label = active and (f"cuda:{active.get('deviceIndex')}" if active["provider"] == "cuda" else "cpu")
    print(f"  default voice runs on {label}; fallbacks: {len(live.get('fallbacks', []))}")
    for event in live.get("fallbacks", []):
        fail(f"fallback from {event['entryLabel']} at {event['stage']}: {event['reason']}")
    if not active or active["provider"] != GPU:
        fail(f"the default voice is not on {GPU}")
    placements = live.get("placements") or {}
    if not placements and GPU == "cuda":
        fail("no node placement was recorded for the CUDA session")
    for graph, p in placements.items():
        nodes = p.get("nodesByProvider", {})
        cuda_nodes = nodes.get("CUDAExecutionProvider", 0)
        cpu_nodes = nodes.get("CPUExecutionProvider", 0)
        print(f"  placement {graph}: {cuda_nodes} nodes on CUDA, {cpu_nodes} on CPU {p.get('cpuOperators', [])}, {p.get('memcpyNodes', 0)} Memcpy")
        for warning in p.get("warnings", []):
            print(f"    ! {warning[:160]}")
        if cuda_nodes == 0:
            fail(f"{graph}: no node runs on CUDA")
        notes.append(f"piper {graph}: {cuda_nodes} CUDA / {cpu_nodes} CPU nodes, {p.get('memcpyNodes', 0)} Memcpy")
    if report.get("ok") is not True:
        fail(f"doctor's verdict: {report.get('verdict')}")

    step("doctor, unforced: what the warm-up measurement chose for Piper")
    code, out, err = run([bin_, "doctor", "--json"], env, timeout=180)
    try:
        live = [p for p in json.loads(out).get("plans", []) if p.get("live")][0]["live"]
        m = live.get("measurement")
        if m:
            parts = [f"{t['entryLabel']} {t['seconds'] * 1000:.1f} ms" if t.get("seconds") is not None else f"{t['entryLabel']} failed"
                     for t in m["timings"]]
            chosen = next((t["entryLabel"] for t in m["timings"] if t["entryIndex"] == m.get("chosenIndex")), None)
            print(f"  measured: {', '.join(parts)}; runs first: {chosen}")
            notes.append(f"piper warm-up measurement: {', '.join(parts)} -> {chosen}")
        else:
            print("  no measurement in the report (the plan had no CUDA entry?)")
    except (ValueError, IndexError, KeyError) as e:
        fail(f"unforced doctor gave no usable report: {e}: {err[-300:]}")


def check_piper(bin_, env, work):
    step("Piper on CUDA vs CPU at noise 0: the same length")
    lengths = {}
    text = "The quick brown fox jumps over the lazy dog. VoxServe speaks this sentence on the GPU and on the CPU."
    for provider in (GPU, "cpu"):
        out_path = os.path.join(work, f"piper-{provider}.wav")
        code, out, err = run([bin_, "speak", text, "-o", out_path, "--provider", provider, "--noise-scale", "0", "--noise-w", "0", "--timings"], env)
        if code != 0:
            fail(f"speak --provider {provider} failed: {err[-400:]}")
            continue
        if "falling back" in err:
            fail(f"speak --provider {provider} fell back: {err[-400:]}")
        frames, rate = wav_frames(out_path)
        lengths[provider] = frames
        t = timings(out) or {}
        synth = t.get("total", 0) - t.get("engineReady", 0)
        audio = t.get("audioSeconds", 0) or 1
        print(f"  {provider}: {frames} samples at {rate} Hz; engine ready {t.get('engineReady', 0):.2f} s, first audio after "
              f"{t.get('firstAudio', 0) - t.get('engineReady', 0):.3f} s, RTF {synth / audio:.3f} (cold process)")
        notes.append(f"piper {provider}: RTF {synth / audio:.3f}, first audio {t.get('firstAudio', 0) - t.get('engineReady', 0):.3f} s (cold)")
    if len(lengths) == 2 or (GPU == "cpu" and len(lengths) == 1):
        diff = abs(lengths[GPU] - lengths["cpu"])
        # Durations are rounded per phoneme: a float difference may move one frame of 256 samples.
        if diff > 256:
            fail(f"{GPU} gave {lengths[GPU]} samples, CPU {lengths['cpu']} (differ by {diff})")
        else:
            ok(f"lengths differ by {diff} samples")


def check_chatterbox(bin_, env, deps, work):
    step("Chatterbox on CUDA, fp32 and fp16: RTF and time to first audio")
    reference = os.path.join(work, "reference.wav")
    write_reference(reference)
    models = [("tiny turbo", os.path.join(deps, "test-models/chatterbox-tiny")),
              ("tiny original", os.path.join(deps, "test-models/chatterbox-tiny-original"))]
    standin = os.path.join(deps, "test-models/chatterbox-standin")
    if os.path.isdir(standin):
        models.append(("full-size stand-in", standin))
    else:
        print("  full-size stand-in: not built (scripts/make_chatterbox_standin.py needs python3 with numpy and onnx); tiny graphs only")
        notes.append("chatterbox full-size stand-in: not built")
    for name, directory in models:
        if not os.path.isdir(directory):
            fail(f"{name}: {directory} is missing")
            continue
        shipped = os.listdir(os.path.join(directory, "onnx")) if os.path.isdir(os.path.join(directory, "onnx")) else os.listdir(directory)
        precisions = ["fp32"] + (["fp16"] if any(f.endswith("_fp16.onnx") for f in shipped) else [])
        if "fp16" not in precisions:
            print(f"  {name} fp16: not shipped by this model (no *_fp16.onnx)")
        for precision in precisions:
            if left() < 60:
                fail("out of time before Chatterbox finished")
                return
            out_path = os.path.join(work, f"cbx-{name.replace(' ', '-')}-{precision}.wav")
            code, out, err = run([bin_, "speak", "Hello from the GPU. This is a cloned voice.", "-o", out_path, "--voice", "chatterbox",
                                  "--reference", reference, "--provider", GPU, "--precision", precision, "--timings"],
                                 dict(env, VOXSERVE_CHATTERBOX_DIR=directory), timeout=240)
            if code != 0:
                fail(f"chatterbox {name} {precision}: {err[-400:]}")
                continue
            if "falling back" in err:
                fail(f"chatterbox {name} {precision} fell back: {err[-400:]}")
            t = timings(out) or {}
            audio = t.get("audioSeconds", 0)
            if audio <= 0:
                fail(f"chatterbox {name} {precision}: no audio")
                continue
            ttfa = t["firstAudio"] - t["engineReady"]
            rtf = (t["total"] - t["engineReady"]) / audio
            print(f"  {name} {precision}: {audio:.2f} s of audio, engine ready {t['engineReady']:.2f} s, first audio {ttfa:.3f} s, RTF {rtf:.3f}")
            notes.append(f"chatterbox {name} {precision}: RTF {rtf:.3f}, first audio {ttfa:.3f} s")


def check_chatterbox_batch(bin_, env, deps, work):
    step("Chatterbox continuous batching on CUDA: 1 and 4 concurrent streams through the server")
    standin = os.path.join(deps, "test-models/chatterbox-standin")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench-chatterbox-batch.py")
    if not os.path.isdir(standin):
        print("  full-size stand-in: not built; batching not measured")
        notes.append("chatterbox batching: not measured (no full-size stand-in)")
        return
    if left() < 90:
        fail("out of time before the batching check")
        return
    out_json = os.path.join(work, "batch.json")
    code, out, err = run([sys.executable, script, "--bin", bin_, "--model-dir", standin, "--precisions", "fp32", "--levels", "1,4",
                          "--tokens", "100", "--provider", GPU, "--label", "stand-in on " + GPU, "--json", out_json],
                         env, timeout=max(30, int(left()) - 30))
    if code != 0:
        fail(f"chatterbox batching: {(out + err)[-600:]}")
        return
    for row in json.load(open(out_json))["precisions"]["fp32"]:
        print("  " + row["line"])
        notes.append(row["line"])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_server(bin_, env, work):
    step("the server on CUDA under 4 concurrent requests")
    port = free_port()
    log = open(os.path.join(work, "server.log"), "w")
    server = subprocess.Popen([bin_, "serve", "--port", str(port), "--provider", GPU], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + min(120, left())
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).read()
                break
            except OSError:
                if server.poll() is not None:
                    break
                time.sleep(0.5)
        else:
            fail("the server did not answer /healthz in time")
            return
        if server.poll() is not None:
            fail(f"the server exited: {open(log.name).read()[-400:]}")
            return

        def request(i):
            body = json.dumps({"model": "tts-1", "input": f"Request number {i}. The GPU speaks while three others wait.",
                               "voice": "alloy", "response_format": "wav"}).encode()
            req = urllib.request.Request(base + "/v1/audio/speech", data=body, headers={"Content-Type": "application/json"})
            start = time.monotonic()
            with urllib.request.urlopen(req, timeout=60) as r:
                first = None
                data = b""
                while True:
                    chunk = r.read(4096)
                    if not chunk:
                        break
                    if first is None:
                        first = time.monotonic() - start
                    data += chunk
                return r.status, len(data), first, time.monotonic() - start

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda i: _safe(request, i), range(4)))
        for i, r in enumerate(results):
            if isinstance(r, Exception):
                fail(f"request {i}: {r}")
            elif r[0] != 200 or r[1] < 1000:
                fail(f"request {i}: status {r[0]}, {r[1]} bytes")
            else:
                print(f"  request {i}: {r[1]} bytes, first byte {r[2]:.3f} s, whole {r[3]:.3f} s")
        whole = sorted(r[3] for r in results if not isinstance(r, Exception))
        if whole:
            notes.append(f"server, 4 concurrent: whole response p50 {whole[len(whole) // 2]:.3f} s, max {whole[-1]:.3f} s")
        status = json.loads(urllib.request.urlopen(base + "/healthz", timeout=5).read() or b"{}")
        print(f"  /healthz: {json.dumps(status)[:300]}")
        text = open(log.name).read()
        if "falling back" in text:
            fail("the server fell back from CUDA: " + text[text.find("falling back") - 300:][:600])
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()


def _safe(fn, *args):
    try:
        return fn(*args)
    except Exception as e:  # reported as a failure of that request
        return e


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--deps", required=True)
    ap.add_argument("--cpu-dry-run", action="store_true", help="run every step on the CPU (tests this script without a GPU)")
    args = ap.parse_args()
    global GPU
    if args.cpu_dry_run:
        GPU = "cpu"
    work = tempfile.mkdtemp(prefix="voxserve-gpucheck-")
    env = dict(os.environ, VOXSERVE_DEPS=args.deps, VOXSERVE_HOME=os.path.join(work, "home"))
    env.pop("VOXSERVE_PROVIDER", None)
    smi = shutil.which("nvidia-smi")
    if smi:
        print(subprocess.run([smi, "--query-gpu=index,name,compute_cap,memory.total,memory.free,driver_version,pci.bus_id",
                              "--format=csv"], capture_output=True, text=True).stdout)
    for check in (lambda: check_doctor(args.bin, env), lambda: check_piper(args.bin, env, work),
                  lambda: check_chatterbox(args.bin, env, args.deps, work), lambda: check_server(args.bin, env, work),
                  lambda: check_chatterbox_batch(args.bin, env, args.deps, work)):
        if left() < 20:
            fail("out of time (8 minutes) before every check ran")
            break
        try:
            check()
        except Exception as e:  # a check that crashes is a failure, not a crash of the whole run
            fail(f"{type(e).__name__}: {e}")
    print(f"\n== summary ({time.monotonic() - START:.0f} s)")
    for note in notes:
        print(f"  {note}")
    if failures:
        print("GPUCHECK RESULT: FAIL")
        for f in failures:
            print(f"  - {f}")
        sys.exit(1)
    print("GPUCHECK RESULT: PASS")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
