#!/usr/bin/env python3
"""Soak test: many clients for many minutes against one `voxserve serve`, watching for leaks.

Starts `voxserve serve --host 127.0.0.1 --port <free> --max-concurrent 2` with a private, temporary
VOXSERVE_HOME, then keeps CLIENTS threads sending POST /v1/audio/speech back to back (a cycle of
texts and formats: wav, pcm, flac, streamed wav and pcm; every 50th request a GET /v1/voices or
/healthz) for MINUTES minutes. A 429 is counted and the client waits as Retry-After says. The
server's RSS, open file descriptors and threads are sampled every SAMPLE_SECONDS.

At the end it prints requests, errors by status, latency p50/p95/p99, the samples, and the RSS
growth over the second half of the run (last sample against the one at the half-way point), and
writes the same as JSON to --out. Exit status 1 when that growth is 5% or more, on any 5xx,
connection error, 4xx other than 429 or malformed audio, when the server died, or when /healthz is not 200 at the
end; 2 when the server did not start.

  scripts/soak.py [--bin .build/release/voxserve] [--clients 16] [--minutes 10] [--sample-seconds 60]
  scripts/soak.py --minutes 1 --sample-seconds 10      # a quick check
"""
import argparse, collections, http.client, json, math, os, random, shutil, signal, socket, struct
import subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GROWTH_GOAL_PCT = 5.0

TEXTS = [
    "Hello.",
    "The kettle is on.",
    "The meeting has been moved to three o'clock on Thursday afternoon.",
    "Please remember to bring the quarterly report and your laptop charger. We start at nine sharp.",
    "It rained all night, but the morning was bright and clear. The streets were still wet. "
    "Children splashed through the puddles on their way to school.",
    "Turn left at the second traffic light, then continue for about two hundred metres. "
    "The pharmacy is on your right, next to the bakery. It closes at six.",
    "Dr. Smith paid $42.50 for 3 tickets on March 5th, 2024 — and said it was worth it!",
    "Text to speech servers turn written words into natural sounding audio. They read notifications, "
    "books and articles aloud. Some of them answer within a few hundred milliseconds. "
    "This one should keep doing so for as long as it runs.",
]
# (response_format, stream); the cycle is offset per client so all combinations run at once.
FORMATS = [("wav", False), ("pcm", False), ("flac", False), ("wav", True),
           ("wav", False), ("pcm", True), ("flac", False), ("wav", True)]


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def proc_stats(pid):
    """RSS and peak RSS (KiB), open fds and threads of a live process; None when it is gone."""
    try:
        fields = {}
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                fields[k] = v.strip()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    kib = lambda k: int(fields.get(k, "0 kB").split()[0])
    return {"rss_kib": kib("VmRSS"), "hwm_kib": kib("VmHWM"), "fds": fds, "threads": int(fields.get("Threads", 0))}


def get(port, path, timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path); r = c.getresponse(); return r.status, r.read()
    finally:
        c.close()


def wait_healthy(port, proc, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if get(port, "/healthz", timeout=2)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def audio_seconds(fmt, headers, body):
    """Seconds of audio in a response: X-Vox-Audio-Duration when sent, else from WAV/PCM sizes."""
    h = headers.get("X-Vox-Audio-Duration")
    if h:
        try: return float(h)
        except ValueError: pass
    if fmt == "pcm":
        ctype = headers.get("Content-Type", "")
        rate = next((int(p.split("=")[1]) for p in ctype.split(";") if p.strip().startswith("rate=")), 24000)
        return len(body) / 2 / rate
    if fmt == "wav":
        rate, bits, channels, pos = 0, 16, 1, 12
        while pos + 8 <= len(body):
            cid, size = body[pos:pos + 4], struct.unpack("<I", body[pos + 4:pos + 8])[0]
            if cid == b"fmt ":
                channels, rate = struct.unpack("<HI", body[pos + 10:pos + 16])
                bits = struct.unpack("<H", body[pos + 22:pos + 24])[0]
            elif cid == b"data":  # a streamed header may give an unknown size: count what came
                frame = max(1, channels * bits // 8)
                return (len(body) - pos - 8) / frame / rate if rate else 0.0
            pos += 8 + size + (size & 1)
    return 0.0


def body_ok(fmt, body):
    if fmt == "wav": return body[:4] == b"RIFF" and body[8:12] == b"WAVE" and len(body) > 44
    if fmt == "flac": return body[:4] == b"fLaC"
    if fmt == "pcm": return len(body) > 0 and len(body) % 2 == 0
    return True


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0                           # every request sent, speech or not
        self.by_status = collections.Counter()      # "200", "429", ..., "connection: TimeoutError", "bad body"
        self.speech_ok = []                         # (t, latency s, kind)
        self.ttfa = []                              # streamed: first audio bytes, s
        self.audio_s = 0.0
        self.bytes = 0
        self.reconnects = 0                         # keep-alive connection found closed, retried once
        self.first_errors = []

    def add(self, status, detail=None):
        with self.lock:
            self.requests += 1
            self.by_status[status] += 1
            if detail and len(self.first_errors) < 10 and self.by_status[status] <= 2:
                self.first_errors.append(detail)


class Client(threading.Thread):
    def __init__(self, i, port, stats, stop, timeout, keepalive, t0):
        super().__init__(daemon=True, name=f"client-{i}")
        self.i, self.port, self.stats, self.stop, self.timeout, self.keepalive, self.t0 = i, port, stats, stop, timeout, keepalive, t0
        self.conn = None
        self.rng = random.Random(i)

    def connection(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        return self.conn

    def drop(self):
        if self.conn is not None:
            self.conn.close(); self.conn = None

    def exchange(self, method, path, body, headers, stream):
        """One request on this client's connection; returns (response, body, ttfa s or None)."""
        reused = self.conn is not None and self.conn.sock is not None
        try:
            return self._exchange(method, path, body, headers, stream)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.drop()
            if not reused:
                raise
            # The server closed an idle keep-alive connection: what any HTTP client retries, once.
            with self.stats.lock: self.stats.reconnects += 1
            return self._exchange(method, path, body, headers, stream)

    def _exchange(self, method, path, body, headers, stream):
        c = self.connection()
        start = time.perf_counter()
        c.request(method, path, body, headers)
        r = c.getresponse()
        ttfa = None
        if stream:
            first = r.read1(65536) if not r.isclosed() else b""
            ttfa = time.perf_counter() - start
            data = first + r.read()
        else:
            data = r.read()
        if not self.keepalive or r.getheader("Connection", "").lower() == "close":
            self.drop()
        return r, data, ttfa

    def run(self):
        k = self.i * 3  # offset: clients start at different points of the cycles
        while not self.stop.is_set():
            k += 1
            try:
                if k % 50 == 0:
                    self.get_other("/v1/voices" if (k // 50) % 2 else "/healthz")
                else:
                    self.speak(TEXTS[k % len(TEXTS)], *FORMATS[(k // len(TEXTS) + k) % len(FORMATS)])
            except Exception as e:  # noqa: BLE001 - counted and reported
                self.drop()
                if self.stop.is_set() and isinstance(e, OSError):
                    break  # shutting down
                self.stats.add(f"connection: {type(e).__name__}", f"{self.name}: {type(e).__name__}: {e}")
                self.stop.wait(0.5)
        self.drop()

    def get_other(self, path):
        r, data, _ = self.exchange("GET", path, None, {}, False)
        ok = r.status == 200 and data[:1] == b"{"
        self.stats.add(str(r.status) if r.status != 200 or ok else "bad body",
                       None if ok else f"GET {path}: {r.status} {data[:200]!r}")

    def speak(self, text, fmt, stream):
        payload = {"input": text, "response_format": fmt}
        if stream: payload["stream"] = True
        start = time.perf_counter()
        r, data, ttfa = self.exchange("POST", "/v1/audio/speech", json.dumps(payload).encode(),
                                      {"Content-Type": "application/json"}, stream)
        latency = time.perf_counter() - start
        if r.status == 200:
            if not body_ok(fmt, data):
                self.stats.add("bad body", f"{fmt} stream={stream}: {len(data)} bytes {data[:16]!r}")
                return
            secs = audio_seconds(fmt, r.headers, data)
            self.stats.add("200")
            with self.stats.lock:
                self.stats.speech_ok.append((time.monotonic() - self.t0, latency, f"{fmt}{' stream' if stream else ''}"))
                if ttfa is not None: self.stats.ttfa.append(ttfa)
                self.stats.audio_s += secs
                self.stats.bytes += len(data)
            return
        self.stats.add(str(r.status), f"{fmt} stream={stream}: {r.status} {data[:200]!r}")
        if r.status in (429, 503):
            try: wait = float(r.getheader("Retry-After", "1"))
            except ValueError: wait = 1.0
            self.drop()
            self.stop.wait(min(wait, 10.0) * (0.5 + self.rng.random()))


def pct(values, p):
    """The p-th percentile (nearest rank on the sorted values)."""
    if not values: return None
    v = sorted(values)
    return v[min(len(v) - 1, max(0, math.ceil(p / 100 * len(v)) - 1))]


def ms(x): return None if x is None else round(x * 1000, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, ".build/release/voxserve"))
    ap.add_argument("--deps", default=os.environ.get("VOXSERVE_DEPS", os.path.join(ROOT, ".deps")))
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--sample-seconds", type=float, default=60.0, help="RSS/fd/thread sampling interval (default 60)")
    ap.add_argument("--max-concurrent", type=int, default=2)
    ap.add_argument("--max-queue", type=int, help="the server's --max-queue (default: the server's, 32); lower it to provoke 429s")
    ap.add_argument("--timeout", type=float, default=120.0, help="client socket timeout, seconds")
    ap.add_argument("--out", default="soak-results.json")
    ap.add_argument("--keep", action="store_true", help="keep the temporary VOXSERVE_HOME and server log")
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"soak: {args.bin} is not an executable; build it first (make build)")

    # SIGTERM (e.g. from a CI runner) ends the run like Ctrl-C: the server is stopped either way.
    def on_term(*_): raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    work = tempfile.mkdtemp(prefix="voxserve-soak-")
    log_path = os.path.join(work, "voxserve.log")
    port = free_port()
    cmd = [args.bin, "serve", "--host", "127.0.0.1", "--port", str(port), "--max-concurrent", str(args.max_concurrent)]
    if args.max_queue is not None: cmd += ["--max-queue", str(args.max_queue)]
    env = dict(os.environ, VOXSERVE_HOME=os.path.join(work, "home"), VOXSERVE_DEPS=args.deps)
    env.pop("VOXSERVE_API_KEY", None)
    stats, stop = Stats(), threading.Event()
    samples, clients, interrupted, failed = [], [], False, True
    log = open(log_path, "wb")
    # Its own session: a Ctrl-C in the terminal reaches this script, which then stops the server.
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        if not wait_healthy(port, proc, 120):
            print(f"soak: the server did not answer /healthz (exit {proc.poll()}); log: {log_path}", file=sys.stderr)
            args.keep = True
            return 2
        print(f"soak: {' '.join(cmd)}  (pid {proc.pid}, VOXSERVE_HOME={env['VOXSERVE_HOME']})", flush=True)
        warm = Client(-1, port, Stats(), threading.Event(), args.timeout, False, time.monotonic())
        for fmt, stream in set(FORMATS):  # warm-up, not counted
            warm.speak(TEXTS[3], fmt, stream)

        duration = args.minutes * 60
        t0 = time.monotonic()
        clients = [Client(i, port, stats, stop, args.timeout, keepalive=(i % 2 == 0), t0=t0) for i in range(args.clients)]

        def sample():
            s = proc_stats(proc.pid)
            if s is None: return None
            s["t_s"] = round(time.monotonic() - t0, 1)
            with stats.lock: s["requests"] = stats.requests
            samples.append(s)
            print(f"  t={s['t_s']:>6.0f}s  rss {s['rss_kib'] / 1024:8.1f} MiB  fds {s['fds']:>4}  threads {s['threads']:>3}"
                  f"  requests {s['requests']:>6}", flush=True)
            return s

        sample()
        for c in clients: c.start()
        next_sample = t0 + args.sample_seconds
        end = t0 + duration
        server_died = False
        while True:
            now = time.monotonic()
            if proc.poll() is not None:
                server_died = True
                print(f"soak: the server exited with {proc.returncode} during the run", file=sys.stderr)
                break
            if now >= end: break
            time.sleep(max(0.0, min(next_sample, end, now + 1.0) - now))
            if time.monotonic() >= next_sample and time.monotonic() < end - 1.0:
                sample()
                next_sample += args.sample_seconds
        elapsed = time.monotonic() - t0
        if not server_died: sample()      # the last sample: with the clients still at work
        stop.set()
        for c in clients: c.join(args.timeout + 5)

        health = None
        if proc.poll() is None:
            try:
                status, body = get(port, "/healthz")
                health = {"status": status, "body": json.loads(body) if status == 200 else body[:300].decode(errors="replace")}
            except (OSError, ValueError) as e:
                health = {"status": None, "error": f"{type(e).__name__}: {e}"}
            after = proc_stats(proc.pid)
        else:
            server_died, after = True, None

        # --- the report ---
        ok_lat = [lat for _, lat, _ in stats.speech_ok]
        by_kind = collections.defaultdict(list)
        for _, lat, kind in stats.speech_ok: by_kind[kind].append(lat)
        half = None
        if len(samples) >= 2:
            half = next(s for s in samples if s["t_s"] >= samples[-1]["t_s"] / 2)
        growth = None
        if half and half is not samples[-1] and half["rss_kib"]:
            growth = round((samples[-1]["rss_kib"] - half["rss_kib"]) / half["rss_kib"] * 100, 2)
        errors = {k: v for k, v in sorted(stats.by_status.items()) if k != "200"}
        n5xx = sum(v for k, v in errors.items() if k.isdigit() and k.startswith("5"))
        nconn = sum(v for k, v in errors.items() if k.startswith("connection"))
        nbad = errors.get("bad body", 0)
        n4xx = sum(v for k, v in errors.items() if k.isdigit() and k.startswith("4") and k != "429")
        result = {
            "command": cmd, "clients": args.clients, "duration_s": round(elapsed, 1),
            "minutes_requested": args.minutes, "sample_seconds": args.sample_seconds,
            "requests": stats.requests, "requests_per_s": round(stats.requests / elapsed, 2) if elapsed else None,
            "speech_ok": len(ok_lat), "statuses": dict(sorted(stats.by_status.items())), "errors": errors,
            "keepalive_reconnects": stats.reconnects, "first_errors": stats.first_errors,
            "latency_ms": {"p50": ms(pct(ok_lat, 50)), "p95": ms(pct(ok_lat, 95)), "p99": ms(pct(ok_lat, 99)),
                           "max": ms(max(ok_lat)) if ok_lat else None},
            "latency_ms_by_kind": {k: {"n": len(v), "p50": ms(pct(v, 50)), "p95": ms(pct(v, 95))} for k, v in sorted(by_kind.items())},
            "stream_first_audio_ms": {"p50": ms(pct(stats.ttfa, 50)), "p95": ms(pct(stats.ttfa, 95))},
            "audio_seconds_served": round(stats.audio_s, 1), "bytes_served": stats.bytes,
            "samples": samples, "after_clients_stopped": after,
            "rss_half_sample_t_s": half["t_s"] if half else None, "rss_growth_second_half_pct": growth,
            "rss_growth_goal_pct": GROWTH_GOAL_PCT,
            "fds_first_last_max": [samples[0]["fds"], samples[-1]["fds"], max(s["fds"] for s in samples)] if samples else None,
            "threads_first_last_max": [samples[0]["threads"], samples[-1]["threads"], max(s["threads"] for s in samples)] if samples else None,
            "server_died": server_died, "final_healthz": health,
        }
        reasons = []
        if growth is None: reasons.append("too few RSS samples to measure growth")
        elif growth >= GROWTH_GOAL_PCT: reasons.append(f"RSS grew {growth}% in the second half")
        if n5xx: reasons.append(f"{n5xx} responses with 5xx")
        if n4xx: reasons.append(f"{n4xx} unexpected 4xx responses")
        if nconn: reasons.append(f"{nconn} connection errors")
        if nbad: reasons.append(f"{nbad} malformed responses")
        if server_died: reasons.append("the server died")
        elif not health or health.get("status") != 200: reasons.append("/healthz was not 200 at the end")
        if not ok_lat: reasons.append("no speech request succeeded")
        result["passed"], result["failures"] = not reasons, reasons

        print()
        print(f"soak: {args.clients} clients, {elapsed / 60:.1f} min, --max-concurrent {args.max_concurrent}"
              + (f", --max-queue {args.max_queue}" if args.max_queue is not None else ""))
        print(f"  requests      {stats.requests} ({result['requests_per_s']}/s), speech 200: {len(ok_lat)}, "
              f"audio served {stats.audio_s:.0f} s ({stats.audio_s / elapsed:.1f} s/s)")
        print(f"  statuses      {', '.join(f'{k}: {v}' for k, v in result['statuses'].items()) or 'none'}"
              + (f"  (keep-alive reconnects: {stats.reconnects})" if stats.reconnects else ""))
        lm = result["latency_ms"]
        print(f"  speech ms     p50 {lm['p50']}  p95 {lm['p95']}  p99 {lm['p99']}  max {lm['max']}"
              f"  (streamed, first audio: p50 {result['stream_first_audio_ms']['p50']})")
        for k, v in result["latency_ms_by_kind"].items():
            print(f"    {k:<12} n {v['n']:>6}  p50 {v['p50']:>8}  p95 {v['p95']:>8}")
        print("  samples       t (s)   RSS MiB   fds  threads")
        for s in samples:
            mark = "  <- half-way" if s is half else ""
            print(f"              {s['t_s']:>6.0f}  {s['rss_kib'] / 1024:8.1f}  {s['fds']:>4}  {s['threads']:>7}{mark}")
        if after:
            print(f"  idle after    rss {after['rss_kib'] / 1024:.1f} MiB (peak {after['hwm_kib'] / 1024:.1f}), fds {after['fds']}, threads {after['threads']}")
        print(f"  /healthz      {health['status'] if health else 'server gone'}")
        for e in stats.first_errors[:5]:
            print(f"  error         {e}")
        print(f"RSS growth in the second half: {'n/a' if growth is None else f'{growth}%'} (goal < {GROWTH_GOAL_PCT:g}%)")
        print("PASS" if not reasons else "FAIL: " + "; ".join(reasons))
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
        print(f"results: {args.out}")
        failed = bool(reasons)
        if failed: args.keep = True
        return 1 if failed else 0
    except KeyboardInterrupt:
        interrupted = True
        print("\nsoak: interrupted; stopping the server", file=sys.stderr)
        return 130
    finally:
        stop.set()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try: proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill(); proc.wait()
        log.close()
        if args.keep or failed or interrupted:
            print(f"soak: server log and home kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
