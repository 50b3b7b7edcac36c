#!/usr/bin/env python3
"""Throughput and latency at 1, 4 and 16 concurrent clients: VoxServe beside Python piper-tts's
own HTTP server (`python -m piper.http_server`), same voice, same texts, measured in one run.

Starts both servers on free loopback ports (VoxServe from BIN, piper from the bench venv that
scripts/setup-bench.sh installs), sends each client's requests back to back for a bounded
number of requests, and prints p50/p95 latency, requests/s and audio seconds per second.

  scripts/bench-throughput.py [--bin .build/release/voxserve] [--requests 16] [--clients 1,4,16]

piper's server needs Flask; when the bench venv lacks it, piper's column is skipped and says why.
"""
import argparse, http.client, json, os, socket, statistics, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXTS = [
    "The meeting has been moved to three o'clock on Thursday afternoon.",
    "Please remember to bring the quarterly report and your laptop charger.",
    "Text to speech servers turn written words into natural sounding audio.",
    "It rained all night, but the morning was bright and clear.",
]


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def wait_up(port, path, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2); c.request("GET", path); c.getresponse().read(); c.close(); return True
        except OSError:
            time.sleep(0.3)
    return False


class Target:
    def __init__(self, name, port, path, body):
        self.name, self.port, self.path, self.body = name, port, path, body

    def request(self, text):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        start = time.perf_counter()
        c.request("POST", self.path, json.dumps(self.body(text)).encode(), {"Content-Type": "application/json"})
        r = c.getresponse(); data = r.read(); c.close()
        if r.status != 200:
            raise RuntimeError(f"{self.name}: HTTP {r.status} {data[:200]!r}")
        return time.perf_counter() - start, wav_seconds(data)


def wav_seconds(data):
    if data[:4] != b"RIFF":
        return 0.0
    rate = int.from_bytes(data[24:28], "little")
    return (len(data) - 44) / 2 / rate if rate else 0.0


def run_level(target, clients, per_client):
    latencies, audio, errors = [], [0.0], []
    lock = threading.Lock()

    def client(i):
        for k in range(per_client):
            try:
                lat, secs = target.request(TEXTS[(i + k) % len(TEXTS)])
                with lock:
                    latencies.append(lat); audio[0] += secs
            except Exception as e:  # noqa: BLE001 - reported below
                with lock:
                    errors.append(str(e))

    start = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads: t.start()
    for t in threads: t.join()
    wall = time.perf_counter() - start
    q = statistics.quantiles(latencies, n=20) if len(latencies) >= 2 else latencies * 19
    return {"clients": clients, "requests": len(latencies), "errors": len(errors),
            "p50_s": round(statistics.median(latencies), 4) if latencies else None,
            "p95_s": round(q[18], 4) if latencies else None,
            "req_per_s": round(len(latencies) / wall, 3), "audio_s_per_s": round(audio[0] / wall, 2),
            "first_error": errors[0] if errors else None}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, ".build/release/voxserve"))
    ap.add_argument("--deps", default=os.environ.get("VOXSERVE_DEPS", os.path.join(ROOT, ".deps")))
    ap.add_argument("--clients", default="1,4,16")
    ap.add_argument("--requests", type=int, default=16, help="requests per concurrency level (split across clients)")
    ap.add_argument("--isolation", default="inprocess")
    ap.add_argument("--no-optimize", action="store_true")
    args = ap.parse_args()
    levels = [int(x) for x in args.clients.split(",")]
    model = os.path.join(args.deps, "models", "en_US-joe-medium.onnx")
    procs, targets, notes = [], [], []
    work = tempfile.mkdtemp()
    try:
        vport = free_port()
        cmd = [args.bin, "serve", "--port", str(vport), "--isolation", args.isolation, "--max-queue", "64"]
        if args.no_optimize: cmd.append("--no-optimize")
        procs.append(subprocess.Popen(cmd, env=dict(os.environ, VOXSERVE_HOME=os.path.join(work, "home"), VOXSERVE_DEPS=args.deps),
                                      stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "voxserve.log"), "w")))
        if not wait_up(vport, "/healthz"):
            sys.exit("voxserve did not start; see " + work)
        targets.append(Target("voxserve", vport, "/v1/audio/speech", lambda t: {"input": t, "response_format": "wav"}))

        py = os.path.join(args.deps, "bench-venv", "bin", "python")
        has_flask = os.path.exists(py) and subprocess.run([py, "-c", "import flask"], capture_output=True).returncode == 0
        if not has_flask:
            notes.append("piper-tts http_server skipped: Flask is not installed in " + os.path.dirname(os.path.dirname(py)))
        else:
            pport = free_port()
            procs.append(subprocess.Popen([py, "-m", "piper.http_server", "-m", model, "--host", "127.0.0.1", "--port", str(pport)],
                                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "piper.log"), "w")))
            if wait_up(pport, "/info"):
                targets.append(Target("piper-tts", pport, "/synthesize", lambda t: {"text": t}))
            else:
                notes.append("piper-tts http_server did not start; see " + work)

        for t in targets:  # warm-up, not counted
            t.request(TEXTS[0])
        results = {t.name: [] for t in targets}
        for n in levels:
            per_client = max(1, args.requests // n)
            for t in targets:
                results[t.name].append(run_level(t, n, per_client))
        print(f"{'server':<10} {'clients':>7} {'reqs':>5} {'p50 ms':>8} {'p95 ms':>8} {'req/s':>7} {'audio s/s':>9} {'errors':>6}")
        for n_i, n in enumerate(levels):
            for t in targets:
                r = results[t.name][n_i]
                print(f"{t.name:<10} {n:>7} {r['requests']:>5} {r['p50_s']*1000:>8.0f} {r['p95_s']*1000:>8.0f} {r['req_per_s']:>7.2f} {r['audio_s_per_s']:>9.1f} {r['errors']:>6}")
        for note in notes:
            print("note:", note)
        print(json.dumps({"results": results, "notes": notes}))
    finally:
        for p in procs:
            p.terminate()
            try: p.wait(timeout=10)
            except subprocess.TimeoutExpired: p.kill()


if __name__ == "__main__":
    main()
