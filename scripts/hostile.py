#!/usr/bin/env python3
"""Hostile-input suite (issue 10): throws malformed, oversized and abusive requests at a live
`voxserve serve` and checks that every answer keeps the contract.

Starts its own server on a free loopback port with a private VOXSERVE_HOME, `--max-upload-mb 2
--timeout 20 --api-key <random>`, and the tiny Chatterbox test models (.deps/test-models/
chatterbox-tiny, written by scripts/test-fixtures.sh) so that uploaded voices can speak. Stores a
voice first and checks at the end that it is still listed and speakable.

For every case it checks:
- the status (and, for errors, the `code`) against the expectation written beside the case;
- that an error is OpenAI-style JSON {"error": {"message", "type", "param", "code"}} whose message
  a person can read (a sentence, not a framework's reason phrase or an empty field name);
- that no response (body or headers) carries the API key, and that no non-audio body carries
  internals: the temporary VOXSERVE_HOME or any path under it, the checkout's or the deps' path,
  /tmp/, Swift type names (NIOTooManyBytesError, DecodingError, Swift., Foundation., ...);
- that the server is healthy afterwards: GET /healthz answers 200, no synthesis slot is still busy,
  the execution plan has not been marked failed, and a short speech request still answers 200.
  When that canary fails the server is restarted (same VOXSERVE_HOME), so one broken case does not
  fail all that follow.

  scripts/hostile.py [--bin .build/debug/voxserve] [--out results.json] [--only REGEX] [--list]

Prints a table and "N cases, P passed, F failed"; exits 1 when any case failed, 2 when the server
could not be started. Standard library only; needs espeak-ng and sox on the PATH.
"""
import argparse, array, base64, json, math, os, random, re, resource, secrets, select, shutil, signal, socket
import struct, subprocess, sys, tempfile, threading, time, wave

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What the fixed server answers; 429/503 only under load, never 500 for client input.
DEFAULT_CODES = {
    400: {"invalid_input", "invalid_json", "invalid_type", "missing_field", "invalid_voice_name", "invalid_audio",
          "invalid_multipart", "invalid_content_type", "invalid_request", "unsupported_response_format",
          "unsupported_stream_format", "unsupported"},
    401: {"invalid_api_key"},
    404: {"voice_not_found", "not_found", "model_not_found"},
    422: {"engine_not_installed"},
    504: {"timeout"},
    405: {"method_not_allowed"},
    409: {"voice_exists"},
    413: {"payload_too_large"},
}
ERROR_TYPES = {"invalid_request_error", "authentication_error", "rate_limit_error", "server_error"}
INTERNAL_MARKERS = ["/tmp/", "NIOTooManyBytesError", "DecodingError", "Swift.", "Foundation.", "NIOCore", "NIOHTTP1",
                    "HummingbirdCore", "HTTPError(", "Optional(", "VoxError(", "CocoaError", "NSCocoaErrorDomain",
                    "Error Domain=", "SoundFileError", "Fatal error", "file://"]

SHORT = "Hello there."
# Many short sentences: the stream runs for long (about two minutes of audio) but each piece is quick,
# so a server that stops at the next piece after a disconnect frees its slot within a second or two.
LONG_STREAM = " ".join(f"Here is short sentence {n}." for n in range(1, 81))
REF_TEXT = ("This is the reference recording of the hostile input suite. "
            "It runs for about seven seconds, long enough to clone a voice.")
LONG_REF_TEXT = ("A longer reference recording, cut short on purpose: the header promises more audio than the file "
                 "holds, and the server has to cope with what is there without falling over.")


# ----------------------------------------------------------------------------------------------
# Raw HTTP/1.1 over a socket: full control of headers, framing, bytes and timing.

class Resp:
    def __init__(self):
        self.status, self.reason, self.headers, self.body = 0, "", [], b""
        self.error, self.elapsed, self.complete, self.early = None, 0.0, False, False

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except Exception:  # noqa: BLE001 - not JSON is an answer too
            return None

    def error_fields(self):
        j = self.json()
        if isinstance(j, dict) and isinstance(j.get("error"), dict):
            return j["error"]
        return None

    def is_audio(self):
        return (self.header("content-type") or "").lower().startswith("audio/")

    def short(self):
        if self.status == 0:
            return f"no response ({self.error})"
        e = self.error_fields()
        if e:
            return f"{self.status} {e.get('code')}: {str(e.get('message'))[:160]}"
        if self.is_audio():
            return f"{self.status} {self.header('content-type')} {len(self.body)} bytes"
        return f"{self.status} {self.body[:160]!r}"


class Ctx:
    """What the running suite shares: the server's address and key, and the responses of the case."""
    port = 0
    key = ""
    responses = []
    secrets_sent = []
    lock = threading.Lock()


def _record(resp):
    with Ctx.lock:
        Ctx.responses.append(resp)
    return resp


class Conn:
    """One connection; sends a request (optionally slowly, chunked or with lying framing) and reads the answer."""

    def __init__(self, timeout=30.0):
        self.sock = socket.create_connection(("127.0.0.1", Ctx.port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""
        self.resp = Resp()
        self.start = time.monotonic()

    @staticmethod
    def head(method, path, headers, auth=True, content_type=None, length=None, chunked=False):
        lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{Ctx.port}", "Connection: close"]
        if auth is True:
            lines.append(f"Authorization: Bearer {Ctx.key}")
        elif auth:
            lines.append(f"Authorization: {auth}")
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        if chunked:
            lines.append("Transfer-Encoding: chunked")
        elif length is not None:
            lines.append(f"Content-Length: {length}")
        out = "\r\n".join(lines).encode() + b"\r\n"
        for k, v in headers:
            out += (k.encode() if isinstance(k, str) else k) + b": " + (v.encode() if isinstance(v, str) else v) + b"\r\n"
        return out + b"\r\n"

    def answered(self):
        r, _, _ = select.select([self.sock], [], [], 0)
        return bool(r)

    def send_body(self, pieces):
        """Sends pieces, stopping when the server answers early (a 413 before the body is in)."""
        for piece in pieces:
            if self.answered():
                self.resp.early = True
                return
            try:
                self.sock.sendall(piece)
            except OSError:
                self.resp.early = True
                return

    def send(self, data):
        self.sock.sendall(data)

    def read_head(self):
        deadline = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                break
        if b"\r\n\r\n" not in self.buf:
            self.resp.error = self.resp.error or ("connection closed before a response" if not self.buf else "truncated headers")
            return False
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        try:
            self.resp.status = int(parts[1])
        except (IndexError, ValueError):
            self.resp.error = f"bad status line {lines[0]!r}"
            return False
        self.resp.reason = parts[2] if len(parts) > 2 else ""
        self.resp.headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:] if ":" in line]
        return True

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            self.resp.error = "timed out"
            return False
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 16)
        except socket.timeout:
            self.resp.error = "timed out"
            return False
        except OSError as e:
            self.resp.error = f"{type(e).__name__}"
            return False
        if not data:
            return False
        self.buf += data
        return True

    def read_body(self, limit=None):
        """Reads the body (Content-Length, chunked or to the close); `limit` stops after that many bytes."""
        r = self.resp
        deadline = time.monotonic() + self.timeout
        te = (r.header("transfer-encoding") or "").lower()
        if "chunked" in te:
            body, raw = b"", self.buf
            while True:
                if limit is not None and len(body) >= limit:
                    break
                if b"\r\n" not in raw:
                    self.buf = raw
                    if not self._fill(deadline):
                        break
                    raw = self.buf
                    continue
                size_line, rest = raw.split(b"\r\n", 1)
                try:
                    size = int(size_line.split(b";")[0].strip() or b"x", 16)
                except ValueError:
                    r.error = "bad chunk framing"
                    break
                if size == 0:
                    r.complete = True
                    break
                while len(rest) < size + 2:
                    self.buf = rest
                    if not self._fill(deadline):
                        break
                    rest = self.buf
                if len(rest) < size + 2:
                    body += rest[:size]
                    break
                body += rest[:size]
                raw = rest[size + 2:]
            r.body = body
        elif r.header("content-length") is not None:
            n = int(r.header("content-length"))
            while len(self.buf) < n and (limit is None or len(self.buf) < limit):
                if not self._fill(deadline):
                    break
            r.body = self.buf[:n]
            r.complete = len(self.buf) >= n
        else:
            while limit is None or len(self.buf) < limit:
                if not self._fill(deadline):
                    break
            r.body = self.buf
            r.complete = r.error is None
        r.elapsed = time.monotonic() - self.start
        return r

    def close(self, reset=False):
        try:
            if reset:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
        except OSError:
            pass


def request(method, path, body=b"", headers=(), *, auth=True, content_type=None, chunked=False, length="auto",
            piece=1 << 16, timeout=30.0):
    """One request on a fresh connection. length: "auto" (the body's), None (no Content-Length), or a number to lie."""
    if isinstance(body, str):
        body = body.encode()
    try:
        c = Conn(timeout)
    except OSError as e:
        r = Resp()
        r.error = f"connect: {e}"
        return _record(r)
    try:
        declared = len(body) if length == "auto" else length
        head = Conn.head(method, path, headers, auth, content_type, None if chunked else declared, chunked)
        pieces = [body[i:i + piece] for i in range(0, len(body), piece)]
        if chunked:
            pieces = [b"%x\r\n" % len(p) + p + b"\r\n" for p in pieces] + [b"0\r\n\r\n"]
        c.send_body([head[i:i + piece] for i in range(0, len(head), piece)] + pieces)
        if c.read_head():
            c.read_body()
    except OSError as e:
        c.resp.error = c.resp.error or f"{type(e).__name__}: {e}"
    finally:
        c.resp.elapsed = time.monotonic() - c.start
        c.close()
    return _record(c.resp)


def speech(payload, *, raw=None, content_type="application/json", timeout=40.0, **kw):
    """POST /v1/audio/speech; payload is a dict (wav unless it says otherwise) or `raw` bytes."""
    if raw is None:
        if isinstance(payload, dict):
            payload = {"response_format": "wav", **payload}
        raw = json.dumps(payload).encode()
    return request("POST", "/v1/audio/speech", raw, content_type=content_type, timeout=timeout, **kw)


def multipart(parts, boundary=None):
    """parts: dicts with name, data, optional filename, ctype, or a raw `disposition`."""
    boundary = boundary or "hx" + secrets.token_hex(12)
    out = b""
    for p in parts:
        b = lambda v: v if isinstance(v, bytes) else str(v).encode()  # noqa: E731
        disposition = p.get("disposition")
        if disposition is None:
            disposition = b'form-data; name="' + b(p["name"]) + b'"'
            if p.get("filename") is not None:
                disposition += b'; filename="' + b(p["filename"]) + b'"'
        out += b"--" + boundary.encode() + b"\r\nContent-Disposition: " + b(disposition) + b"\r\n"
        if p.get("ctype"):
            out += b"Content-Type: " + b(p["ctype"]) + b"\r\n"
        out += b"\r\n" + b(p["data"]) + b"\r\n"
    return boundary, out + b"--" + boundary.encode() + b"--\r\n"


def upload(name, data, filename="reference.wav", ctype="audio/wav", **kw):
    boundary, body = multipart([{"name": "name", "data": name},
                                {"name": "file", "data": data, "filename": filename, "ctype": ctype}])
    return request("POST", "/v1/voices", body, content_type=f"multipart/form-data; boundary={boundary}", **kw)


def voices():
    r = request("GET", "/v1/voices")
    j = r.json()
    return {v.get("id"): v for v in j.get("data", [])} if isinstance(j, dict) else {}


def health():
    r = request("GET", "/healthz", auth=False, timeout=5)
    return r, (r.json() if r.status == 200 else None)


def wav_ok(resp):
    """Problems with a 200 audio answer (empty list when it is a playable WAV with samples)."""
    if resp.status != 200:
        return []
    if not resp.is_audio():
        return [f"200 without audio (Content-Type {resp.header('content-type')})"]
    b = resp.body
    if (resp.header("content-type") or "").endswith("wav"):
        if b[:4] != b"RIFF" or b[8:12] != b"WAVE":
            return ["200 but the body is not a WAV"]
        i = b.find(b"data")
        if i < 0 or len(b) - (i + 8) < 200:
            return [f"200 but the WAV holds almost no audio ({len(b)} bytes)"]
    elif len(b) < 200:
        return [f"200 but only {len(b)} bytes of audio"]
    return []


# ----------------------------------------------------------------------------------------------
# Test media.

def wav_bytes(samples, rate, channels=1, fmt="pcm16", data_size=None, riff_size=None):
    """samples: interleaved floats in [-1, 1] (pcm16) or raw floats (float32, NaN allowed)."""
    if fmt == "pcm16":
        data = array.array("h", (max(-32768, min(32767, int(s * 32767))) if s == s else 0 for s in samples)).tobytes()
        tag, bits = 1, 16
    else:
        data = array.array("f", samples).tobytes()
        tag, bits = 3, 32
    block = channels * bits // 8
    fmt_chunk = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    size = len(data) if data_size is None else data_size
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", (len(body) if riff_size is None else riff_size)) + body


def read_wav_floats(path):
    with wave.open(path, "rb") as w:
        rate, n = w.getframerate(), w.getnframes()
        frames = array.array("h", w.readframes(n))
    return [x / 32768.0 for x in frames], rate


class Media:
    """Recordings made once per run (espeak-ng, sox, the server's own MP3 writer)."""

    def __init__(self, folder):
        self.dir = folder
        self.notes = []
        self.files = {}

    def path(self, name):
        return os.path.join(self.dir, name)

    def make(self):
        def run(*cmd):
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        run("espeak-ng", "-w", self.path("ref.wav"), REF_TEXT)
        run("espeak-ng", "-s", "140", "-w", self.path("long.wav"), LONG_REF_TEXT)
        run("espeak-ng", "-w", self.path("short.wav"), "Too short to clone.")
        jobs = [
            ["sox", self.path("ref.wav"), "-C", "8", self.path("ref.flac")],
            ["sox", self.path("ref.wav"), self.path("ref.ogg")],
            ["sox", self.path("ref.wav"), "-r", "8000", "-c", "1", self.path("ref8k.wav")],
            ["sox", self.path("ref.wav"), "-r", "96000", "-c", "6", self.path("ref96k6.flac")],
            ["sox", self.path("ref.wav"), "-r", "96000", "-c", "6", self.path("ref96k6.wav")],
            # An hour of digital silence; -D (no dither) keeps it silent and FLAC keeps it small (~0.5 MB).
            ["sox", "-D", "-n", "-r", "48000", "-c", "1", "-b", "16", self.path("hour.flac"), "trim", "0", "3600"],
        ]
        procs = [subprocess.Popen(j, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for j in jobs]
        for j, p in zip(jobs, procs):
            _, err = p.communicate()
            if p.returncode != 0:
                raise RuntimeError(f"{' '.join(j)}: {err.decode(errors='replace').strip()}")
        formats = re.search(r"AUDIO FILE FORMATS:(.*)", subprocess.run(["sox", "-h"], capture_output=True, text=True).stdout)
        self.sox_mp3 = bool(formats) and "mp3" in formats.group(1).split()
        if self.sox_mp3:
            run("sox", self.path("ref.wav"), self.path("ref.mp3"))
        else:
            self.notes.append("sox cannot write MP3 here (no libmp3lame): the MP3 upload is the server's own "
                              "response_format=mp3 rendering of the reference text")
        for name in os.listdir(self.dir):
            with open(self.path(name), "rb") as f:
                self.files[name] = f.read()
        self.ref_floats, self.ref_rate = read_wav_floats(self.path("ref.wav"))
        self.long_floats, self.long_rate = read_wav_floats(self.path("long.wav"))

    def __getitem__(self, name):
        return self.files[name]


# ----------------------------------------------------------------------------------------------
# The server.

def _die_with_parent():
    """In the child: SIGKILL when this script dies without stopping it (prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)
    except Exception:  # noqa: BLE001 - best effort; the finally clause stops it otherwise
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, base, chatterbox, timeout=20, home="home"):
        self.binary, self.base, self.timeout = binary, base, timeout
        self.home = os.path.join(base, home)
        os.makedirs(self.home, exist_ok=True)
        self.deps = os.path.abspath(os.environ.get("VOXSERVE_DEPS") or os.path.join(ROOT, ".deps"))
        self.chatterbox = chatterbox
        self.key = "hx-" + secrets.token_urlsafe(24)
        self.proc = None
        self.log_path = os.path.join(base, f"{home}.log")
        self.restarts = []

    def start(self):
        self.port = free_port()
        env = dict(os.environ, VOXSERVE_HOME=self.home, VOXSERVE_DEPS=self.deps)
        env.pop("VOXSERVE_API_KEY", None)
        if self.chatterbox:
            env["VOXSERVE_CHATTERBOX_DIR"] = self.chatterbox
        else:
            env.pop("VOXSERVE_CHATTERBOX_DIR", None)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--max-upload-mb", "2",
             "--timeout", str(self.timeout), "--api-key", self.key],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=_die_with_parent)
        log.close()
        Ctx.port, Ctx.key = self.port, self.key
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with status {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    pass
                r, _ = health()
                if r.status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server did not answer /healthz within 60 s:\n{self.log_tail()}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace=10):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def restart(self, why):
        self.restarts.append(why)
        self.stop()
        self.start()

    def log_tail(self, n=30):
        try:
            with open(self.log_path, "rb") as f:
                return "\n".join(f.read().decode(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


# ----------------------------------------------------------------------------------------------
# Cases.

class Outcome:
    """What a case reports: its main response (checked against the expectation), or `got` for a case
    that judges itself, plus its own problems and a note."""

    def __init__(self, resp=None, got=None, problems=None, note=""):
        self.resp, self.got, self.problems, self.note = resp, got, list(problems or []), note


CASES = []


def case(name, group, expect, codes=None, audio=True, canary=True, protocol=False):
    """expect: a status or a tuple of statuses (0 = the server closed without answering), or a
    string describing a self-judging case. codes: the error codes allowed (default per status).
    protocol: a request HTTP itself cannot parse; the HTTP layer may answer a bare 400/431 and close."""
    def wrap(fn):
        CASES.append(dict(name=name, group=group, expect=expect, codes=codes, audio=audio, fn=fn, canary=canary,
                          protocol=protocol))
        return fn
    return wrap


S = None       # Server
M = None       # Media
SPEAKABLE = False
KEEPER = "hx-keeper"


def uname(tag):
    return f"hx-{tag}-{secrets.token_hex(3)}"


def refusal():
    """An unusable recording: 400 when Chatterbox checks uploads; without it an upload is only stored."""
    return 400 if SPEAKABLE else (201, 400)


def after_upload(resp, name):
    """A stored voice must be listed and (with Chatterbox) speak; then it is removed again."""
    problems = []
    if resp.status != 201:
        return problems
    listed = voices()
    if name not in listed:
        problems.append(f"201 but '{name}' is not listed")
    if SPEAKABLE:
        s = speech({"input": "A cloned voice speaks.", "voice": name})
        if s.status != 200:
            problems.append(f"accepted, but speaking with it answers {s.short()}")
        problems += wav_ok(s)
    d = request("DELETE", f"/v1/voices/{name}")
    if d.status != 200:
        problems.append(f"DELETE after the case answered {d.short()}")
    return problems


def upload_case(name, data, **kw):
    r = upload(name, data, **kw)
    return Outcome(r, problems=after_upload(r, name))


# --- text ------------------------------------------------------------------------------------

@case("text.empty", "text", 400, {"invalid_input"})
def _(): return Outcome(speech({"input": ""}))


@case("text.whitespace", "text", 400, {"invalid_input"})
def _(): return Outcome(speech({"input": "   \n\t  \r\n "}))


@case("text.unicode_whitespace", "text", 400, {"invalid_input"})
def _(): return Outcome(speech({"input": "\u00a0\u2028\u2029\u3000\u2003"}))


@case("text.zero_width_only", "text", 400, {"invalid_input"})
def _(): return Outcome(speech({"input": "\u200b\u200c\u200d\ufeff\u2060"}))


@case("text.control_only", "text", 400, {"invalid_input"})
def _(): return Outcome(speech({"input": "\u0000\u0001\u0002\u0007\u001b\u007f"}))


@case("text.punctuation_only", "text", (200, 400))
def _(): return Outcome(speech({"input": "...!?;:--"}))


@case("text.over_limit", "text", 400, {"invalid_input"})
def _():
    r = speech({"input": ("word " * 2001)[:10001]})
    message = str((r.error_fields() or {}).get("message", "")).replace(",", "")
    return Outcome(r, problems=["the message does not say what the limit is"] if r.status == 400 and "10000" not in message else [])


@case("text.body_1mb", "text", 413, {"payload_too_large"})
def _(): return Outcome(speech({"input": "a " * 500_000}))


@case("text.body_20mb", "text", 413, {"payload_too_large"})
def _(): return Outcome(speech({"input": "x" * 20_000_000}, timeout=60))


@case("text.body_1mb_chunked", "text", 413, {"payload_too_large"})
def _(): return Outcome(speech({"input": "a " * 500_000}, chunked=True))


@case("text.body_1mb_padding", "text", 413, {"payload_too_large"})
def _(): return Outcome(speech(None, raw=b" " * 1_000_000 + b'{"input": "Hi."}'))


@case("text.invalid_utf8", "text", 400, {"invalid_json", "invalid_input"})
def _(): return Outcome(speech(None, raw=b'{"input": "Hello \xff\xfe world", "response_format": "wav"}'))


@case("text.overlong_utf8", "text", 400, {"invalid_json", "invalid_input"})
def _(): return Outcome(speech(None, raw=b'{"input": "Hi \xc0\xaf\xe0\x80\xaf there", "response_format": "wav"}'))


@case("text.lone_surrogate", "text", (200, 400), {"invalid_json", "invalid_input"})
def _(): return Outcome(speech(None, raw=b'{"input": "Hello \\ud800 world.", "response_format": "wav"}'))


@case("text.deep_nesting_input", "text", 400, {"invalid_json", "invalid_type"})
def _(): return Outcome(speech(None, raw=b'{"input": ' + b"[" * 40_000 + b"]" * 40_000 + b"}"))


@case("text.deep_nesting_object", "text", (200, 400), {"invalid_json"})
def _():
    return Outcome(speech(None, raw=b'{"input": "Hi.", "response_format": "wav", "x": ' + b'{"a":' * 15_000 + b"1" + b"}" * 15_001))


@case("text.deep_nesting_unclosed", "text", 400, {"invalid_json"})
def _(): return Outcome(speech(None, raw=b"[" * 90_000 + b'{"input": "Hi."}'))


@case("text.input_number", "text", 400, {"invalid_type"})
def _(): return Outcome(speech({"input": 42}))


@case("text.input_array", "text", 400, {"invalid_type"})
def _(): return Outcome(speech({"input": ["Hello", "world"]}))


@case("text.input_object", "text", 400, {"invalid_type"})
def _(): return Outcome(speech({"input": {"text": "Hello"}}))


@case("text.input_null", "text", 400, {"invalid_type", "missing_field"})
def _(): return Outcome(speech({"input": None}))


@case("text.input_missing", "text", 400, {"missing_field"})
def _(): return Outcome(speech({"voice": "alloy"}))


@case("text.control_chars_in_words", "text", 200)
def _(): return Outcome(speech({"input": "Hel\u0000lo wo\u0007rld, th\u001b[31mis\u007f te\u0008st.\u000c"}))


@case("text.emoji_with_words", "text", 200)
def _(): return Outcome(speech({"input": "Hello 👋 world 🌍☀️."}))


@case("text.emoji_zwj_flags", "text", 200)
def _(): return Outcome(speech({"input": "Family 👨‍👩‍👧‍👦 waves 👋🏽 🇫🇷🏳️‍🌈."}))


@case("text.emoji_only", "text", (200, 400))
def _(): return Outcome(speech({"input": "👋🎉"}))


@case("text.rtl_arabic_mixed", "text", 200)
def _(): return Outcome(speech({"input": "He said مرحبا."}))


@case("text.rtl_hebrew_mixed", "text", 200)
def _(): return Outcome(speech({"input": "It means שלום."}))


@case("text.rtl_arabic_only", "text", (200, 400))
def _(): return Outcome(speech({"input": "مرحبا بالعالم"}))


@case("text.rtl_hebrew_only", "text", (200, 400))
def _(): return Outcome(speech({"input": "שלום עולם"}))


@case("text.bidi_overrides", "text", 200)
def _(): return Outcome(speech({"input": "Hi \u202eyou\u202c and \u200fgood\u200e \u2066day\u2069."}))


@case("text.cjk_mixed", "text", 200)
def _(): return Outcome(speech({"input": "Hello 你好 there."}))


@case("text.cjk_only", "text", (200, 400))
def _(): return Outcome(speech({"input": "你好。こんにちは。안녕."}))


@case("text.ssml_tags", "text", 200)
def _(): return Outcome(speech({"input": '<speak>Hi <break time="2s"/> <prosody rate="x-fast">there</prosody>.</speak>'}))


@case("text.ssml_entities", "text", 200)
def _():
    return Outcome(speech({"input": '<?xml version="1.0"?><!DOCTYPE s [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                                    '<speak>&e; Hi &amp; bye &#x41; &unknown;</speak>'}))


@case("text.markup_unbalanced", "text", 200)
def _(): return Outcome(speech({"input": "<script>alert(1)</script> Hi <b>there <speak><voice name='x'>"}))


@case("text.combining_marks", "text", 200)
def _(): return Outcome(speech({"input": "Z̸̡̪̯ͨ͊̽̅̾̎a̬̩̾͛ͪ̈́̀́͘l̡̗̘͖g͔̻̮̯o̷̼̻̜ here."}))


@case("text.giant_grapheme", "text", (200, 400))
def _(): return Outcome(speech({"input": "Hi a" + "\u0301" * 5000 + "."}))


# A 5,000-letter word is about 67 s of audio: spoken (200), refused (400) or, on a slow machine, cut by
# --timeout (504 with a clear message); what matters most is that the server still speaks afterwards.
@case("text.word_5000_chars", "text", (200, 400, 504), {"invalid_input", "timeout"})
def _():
    word = ("pneumonoultramicroscopicsilicovolcanoconiosis" * 112)[:5000]
    return Outcome(speech({"input": f"The word is {word}."}, timeout=40))


@case("text.many_newlines", "text", 200)
def _(): return Outcome(speech({"input": "Hi" + "\n" * 3000 + "there."}))


@case("text.unknown_fields", "text", 200)
def _():
    return Outcome(speech({"input": SHORT, "instructions": "whisper", "foo": [1, {"b": None}], "__proto__": {"x": 1},
                           "constructor": "y", "speed ": 9}))


@case("text.json_array_body", "text", 400, {"invalid_json", "invalid_type"})
def _(): return Outcome(speech([{"input": SHORT}]))


@case("text.json_scalar_body", "text", 400, {"invalid_json", "invalid_type"})
def _(): return Outcome(speech(None, raw=b'"Hello there."'))


@case("text.json_null_body", "text", 400, {"invalid_json", "invalid_type"})
def _(): return Outcome(speech(None, raw=b"null"))


@case("text.json_truncated", "text", 400, {"invalid_json"})
def _(): return Outcome(speech(None, raw=b'{"input": "Hello there.", "voice": "al'))


@case("text.json_trailing_garbage", "text", 400, {"invalid_json"})
def _(): return Outcome(speech(None, raw=b'{"input": "Hello there."} {"input": "again"}'))


@case("text.empty_body", "text", 400, {"invalid_json"})
def _(): return Outcome(speech(None, raw=b""))


@case("text.content_type_form", "text", 400, {"invalid_json", "invalid_content_type"})
def _(): return Outcome(speech(None, raw=b"input=Hello+there&voice=alloy", content_type="application/x-www-form-urlencoded"))


@case("text.content_type_text_plain", "text", 400, {"invalid_json", "invalid_content_type"})
def _(): return Outcome(speech(None, raw=b"Hello there, speak this.", content_type="text/plain"))


@case("text.content_type_xml_with_json", "text", (200, 400), {"invalid_content_type"})
def _(): return Outcome(speech(None, raw=json.dumps({"input": SHORT, "response_format": "wav"}).encode(), content_type="application/xml"))


@case("text.bom_prefixed_json", "text", (200, 400), {"invalid_json"})
def _(): return Outcome(speech(None, raw=b"\xef\xbb\xbf" + json.dumps({"input": SHORT, "response_format": "wav"}).encode()))


@case("text.speed_1e308", "text", 400, {"invalid_input"})
def _(): return Outcome(speech({"input": SHORT, "speed": 1e308}))


@case("text.speed_minus_1e308", "text", 400, {"invalid_input"})
def _(): return Outcome(speech({"input": SHORT, "speed": -1e308}))


@case("text.speed_1e309_literal", "text", 400, {"invalid_input", "invalid_json", "invalid_type"})
def _(): return Outcome(speech(None, raw=b'{"input": "Hello there.", "speed": 1e309}'))


@case("text.speed_huge_integer", "text", 400, {"invalid_input", "invalid_json", "invalid_type"})
def _(): return Outcome(speech(None, raw=b'{"input": "Hello there.", "speed": 1' + b"0" * 400 + b"}"))


@case("text.speed_zero", "text", 400, {"invalid_input"})
def _(): return Outcome(speech({"input": SHORT, "speed": 0}))


@case("text.speed_negative", "text", 400, {"invalid_input"})
def _(): return Outcome(speech({"input": SHORT, "speed": -1}))


@case("text.speed_denormal", "text", 400, {"invalid_input"})
def _(): return Outcome(speech(None, raw=b'{"input": "Hello there.", "speed": 4.9e-324}'))


@case("text.speed_nan_literal", "text", 400, {"invalid_json", "invalid_input"})
def _(): return Outcome(speech(None, raw=b'{"input": "Hello there.", "speed": NaN}'))


@case("text.speed_infinity_literal", "text", 400, {"invalid_json", "invalid_input"})
def _(): return Outcome(speech(None, raw=b'{"input": "Hello there.", "speed": -Infinity}'))


@case("text.speed_huge", "text", 400, {"invalid_input"})
def _(): return Outcome(speech({"input": SHORT, "speed": 1000}))


@case("text.speed_string", "text", 400, {"invalid_type"})
def _(): return Outcome(speech({"input": SHORT, "speed": "fast"}))


@case("text.speed_edges_ok", "text", 200)
def _():
    r = speech({"input": "Fast.", "speed": 4})
    slow = speech({"input": "Slow.", "speed": 0.25})
    return Outcome(r, problems=[f"speed 0.25 answered {slow.short()}"] if slow.status != 200 else wav_ok(slow))


@case("text.speaker_id_overflow", "text", 400, {"invalid_type", "invalid_json", "invalid_input"})
def _(): return Outcome(speech(None, raw=b'{"input": "Hello there.", "speaker_id": 99999999999999999999999999}'))


@case("text.speaker_id_negative", "text", 400, {"invalid_input"})
def _(): return Outcome(speech({"input": SHORT, "speaker_id": -5}))


@case("text.seed_out_of_range", "text", 400, {"invalid_type", "invalid_json", "invalid_input"})
def _(): return Outcome(speech(None, raw=b'{"input": "Hello there.", "seed": 18446744073709551616}'))


@case("text.length_scale_1e308", "text", 400, {"invalid_input", "invalid_type"})
def _(): return Outcome(speech({"input": SHORT, "length_scale": 1e308}))


@case("text.noise_scale_negative", "text", 400, {"invalid_input"})
def _(): return Outcome(speech({"input": SHORT, "noise_scale": -1}))


@case("text.response_format_unknown", "text", 400, {"unsupported_response_format"})
def _(): return Outcome(speech({"input": SHORT, "response_format": "../../etc/passwd" + "x" * 10_000}))


@case("text.stream_format_unknown", "text", 400, {"unsupported_stream_format"})
def _(): return Outcome(speech({"input": SHORT, "stream_format": "x" * 10_000}))


@case("text.model_unknown_10kb", "text", 404, {"model_not_found"})
def _(): return Outcome(speech({"input": SHORT, "model": "gpt-" + "x" * 10_000}))


@case("text.wrong_method", "text", 405, {"method_not_allowed"})
def _(): return Outcome(request("GET", "/v1/audio/speech"))


@case("text.unknown_route", "text", 404, {"not_found"})
def _(): return Outcome(request("POST", "/v1/audio/../../etc/passwd", b"{}", content_type="application/json"))


# --- voices (names) -----------------------------------------------------------------------------

@case("voices.speech_dotdot_path", "voices", 400, {"invalid_voice_name"})
def _(): return Outcome(speech({"input": SHORT, "voice": "../../../etc/passwd"}))


@case("voices.speech_absolute_path", "voices", 400, {"invalid_voice_name"})
def _(): return Outcome(speech({"input": SHORT, "voice": "/etc/voxserve/voices/en_US-joe-medium.onnx"}))


@case("voices.speech_nul", "voices", 400, {"invalid_voice_name"})
def _(): return Outcome(speech({"input": SHORT, "voice": "en_US-joe-medium\u0000.onnx"}))


@case("voices.speech_10kb_name", "voices", 400, {"invalid_voice_name"})
def _(): return Outcome(speech({"input": SHORT, "voice": "v" * 10_240}))


@case("voices.speech_dot", "voices", 400, {"invalid_voice_name"})
def _(): return Outcome(speech({"input": SHORT, "voice": "."}))


@case("voices.speech_dotdot", "voices", 400, {"invalid_voice_name"})
def _(): return Outcome(speech({"input": SHORT, "voice": ".."}))


@case("voices.speech_CON", "voices", 404, {"voice_not_found"})
def _(): return Outcome(speech({"input": SHORT, "voice": "CON"}))


@case("voices.speech_default", "voices", (200, 404), {"voice_not_found"})
def _(): return Outcome(speech({"input": SHORT, "voice": "default"}))


@case("voices.speech_openai_alias", "voices", 200)
def _(): return Outcome(speech({"input": SHORT, "voice": "alloy"}))


@case("voices.speech_unicode_name", "voices", 400, {"invalid_voice_name"})
def _(): return Outcome(speech({"input": SHORT, "voice": "Zoë-名前-\u202eevil"}))


@case("voices.speech_unknown_valid", "voices", 404, {"voice_not_found"})
def _(): return Outcome(speech({"input": SHORT, "voice": "hx-no-such-voice"}))


@case("voices.speech_voice_number", "voices", 400, {"invalid_type"})
def _(): return Outcome(speech({"input": SHORT, "voice": 7}))


@case("voices.upload_dotdot_name", "voices", 400, {"invalid_voice_name"})
def _(): return upload_case("../../evil", M["ref.wav"])


@case("voices.upload_absolute_name", "voices", 400, {"invalid_voice_name"})
def _(): return upload_case("/etc/cron.d/evil", M["ref.wav"])


@case("voices.upload_nul_name", "voices", 400, {"invalid_voice_name"})
def _(): return upload_case(b"evil\x00name", M["ref.wav"])


@case("voices.upload_10kb_name", "voices", 400, {"invalid_voice_name"})
def _(): return upload_case("n" * 10_240, M["ref.wav"])


@case("voices.upload_dot_name", "voices", 400, {"invalid_voice_name"})
def _(): return upload_case(".", M["ref.wav"])


@case("voices.upload_dotdot_name_bare", "voices", 400, {"invalid_voice_name"})
def _(): return upload_case("..", M["ref.wav"])


@case("voices.upload_CON", "voices", 201)
def _(): return upload_case("CON", M["ref.wav"])


@case("voices.upload_default", "voices", (201, 400, 409), {"invalid_voice_name", "voice_exists"})
def _(): return upload_case("default", M["ref.wav"])


@case("voices.upload_installed_name", "voices", 409, {"voice_exists"})
def _(): return upload_case("en_US-joe-medium", M["ref.wav"])


@case("voices.upload_unicode_name", "voices", 400, {"invalid_voice_name"})
def _(): return upload_case("Zoë-名前", M["ref.wav"])


@case("voices.upload_traversal_filename", "voices", 201)
def _():
    name = uname("fname")
    target = os.path.join(S.base, "escaped.wav")
    r = upload(name, M["ref.wav"], filename="../../../../" + target.lstrip("/"))
    problems = after_upload(r, name)
    if os.path.exists(target):
        problems.append(f"the client's file name was used as a path: {target} exists")
    if r.status == 201 and ".." in r.body.decode(errors="replace"):
        problems.append("the answer echoes the traversal file name")
    return Outcome(r, problems=problems)


@case("voices.duplicate_name", "voices", 409, {"voice_exists"})
def _():
    name = uname("dup")
    first = upload(name, M["ref.wav"])
    second = upload(name, M["ref.flac"])
    problems = [] if first.status == 201 else [f"first upload answered {first.short()}"]
    if second.status == 409:
        request("DELETE", f"/v1/voices/{name}")
    else:
        problems += after_upload(second, name) if second.status == 201 else []
    return Outcome(second, problems=problems)


@case("voices.delete_unknown", "voices", 404, {"voice_not_found"})
def _(): return Outcome(request("DELETE", "/v1/voices/hx-never-uploaded"))


@case("voices.delete_traversal", "voices", (400, 404), {"invalid_voice_name", "not_found", "voice_not_found"})
def _(): return Outcome(request("DELETE", "/v1/voices/..%2F..%2Fhome%2F..%2Fetc%2Fpasswd"))


@case("voices.delete_10kb_name", "voices", (400, 414), {"invalid_voice_name"})
def _(): return Outcome(request("DELETE", "/v1/voices/" + "d" * 10_240))


@case("voices.delete_installed_voice", "voices", (400, 403, 404, 409))
def _():
    r = request("DELETE", "/v1/voices/en_US-joe-medium")
    s = speech({"input": SHORT, "voice": "en_US-joe-medium"})
    problems = [] if s.status == 200 else [f"the installed voice no longer speaks: {s.short()}"]
    return Outcome(r, problems=problems)


@case("voices.delete_in_flight", "voices", "DELETE 200 while streaming; the stream completes; then 404")
def _():
    name = uname("inflight")
    up = upload(name, M["ref.wav"])
    if up.status != 201:
        return Outcome(got=f"upload {up.short()}", problems=[f"could not store the voice: {up.short()}"])
    if not SPEAKABLE:
        d = request("DELETE", f"/v1/voices/{name}")
        return Outcome(got=f"DELETE {d.status}", problems=[] if d.status == 200 else [d.short()],
                       note="no Chatterbox test model: the voice cannot speak, only its deletion is checked")
    c = Conn(40)
    body = json.dumps({"input": LONG_STREAM[:600], "voice": name, "response_format": "wav", "stream": True}).encode()
    c.send(Conn.head("POST", "/v1/audio/speech", [], True, "application/json", len(body)) + body)
    problems = []
    got_head = c.read_head()
    d = request("DELETE", f"/v1/voices/{name}")
    if got_head:
        c.read_body()
    c.close()
    stream = _record(c.resp)
    after = speech({"input": SHORT, "voice": name})
    if stream.status != 200 or not stream.complete:
        problems.append(f"the request in flight ended {stream.short()} complete={stream.complete}")
    if d.status != 200:
        problems.append(f"DELETE answered {d.short()}")
    if after.status != 404:
        problems.append(f"speaking after the deletion answered {after.short()} (expected 404)")
    if name in voices():
        problems.append("the voice is still listed")
    return Outcome(got=f"stream {stream.status}{'' if stream.complete else ' cut'}, DELETE {d.status}, then {after.status}",
                   problems=problems)


@case("voices.delete_race", "voices", "speech 200 or 404 while DELETE races it; never 5xx")
def _():
    name = uname("race")
    up = upload(name, M["ref.wav"])
    if up.status != 201:
        return Outcome(got=f"upload {up.short()}", problems=[f"could not store the voice: {up.short()}"])
    results = {}
    t = threading.Thread(target=lambda: results.setdefault("s", speech({"input": "Racing the deletion.", "voice": name})))
    t.start()
    d = request("DELETE", f"/v1/voices/{name}")
    t.join(60)
    s = results.get("s") or Resp()
    allowed = (200, 404) if SPEAKABLE else (200, 400, 404, 422, 503)
    problems = [] if s.status in allowed else [f"the racing request answered {s.short()}"]
    problems += [] if d.status == 200 else [f"DELETE answered {d.short()}"]
    return Outcome(got=f"speech {s.status}, DELETE {d.status}", problems=problems)


# --- OpenAI's routes (issue 11) ------------------------------------------------------------------

def openai_upload(fields):
    boundary, body = multipart(fields)
    return request("POST", "/v1/audio/voices", body, content_type=f"multipart/form-data; boundary={boundary}")


def sample_part():
    return {"name": "audio_sample", "data": M["ref.wav"], "filename": "sample.wav", "ctype": "audio/wav"}


@case("openai.voices_create_without_consent", "uploads", 400, {"missing_field"})
def _(): return Outcome(openai_upload([{"name": "name", "data": uname("nc")}, sample_part()]))


@case("openai.voices_create_prompt_type", "uploads", 400, {"unsupported"})
def _(): return Outcome(openai_upload([{"name": "name", "data": uname("pr")}, {"name": "type", "data": "prompt"},
                                       {"name": "consent", "data": "cons_1"}, sample_part()]))


@case("openai.voices_create_path_name", "uploads", 400, {"invalid_voice_name"})
def _(): return Outcome(openai_upload([{"name": "name", "data": "../../etc/passwd"}, {"name": "consent", "data": "cons_1"}, sample_part()]))


@case("openai.voices_create_non_audio", "uploads", 400, {"invalid_audio"})
def _(): return Outcome(openai_upload([{"name": "name", "data": uname("na")}, {"name": "consent", "data": "cons_1"},
                                       {"name": "audio_sample", "data": os.urandom(50_000), "filename": "x.wav", "ctype": "audio/wav"}]))


@case("openai.voices_delete_path_id", "voices", (400, 404), {"invalid_voice_name", "not_found", "voice_not_found"})
def _(): return Outcome(request("DELETE", "/v1/audio/voices/..%2F..%2Fetc%2Fpasswd"))


@case("openai.model_retrieve_unknown", "text", 404, {"model_not_found"})
def _(): return Outcome(request("GET", "/v1/models/" + "x" * 2000))


@case("openai.speech_without_v1_bad_json", "text", 400, {"invalid_json"})
def _(): return Outcome(request("POST", "/audio/speech", b"{not json", content_type="application/json"))


@case("openai.sse_unknown_voice", "text", 404, {"voice_not_found"})
def _(): return Outcome(speech({"input": SHORT, "voice": "nobody-here", "stream_format": "sse"}))


@case("openai.voice_object_without_id", "text", 400, {"invalid_type"})
def _(): return Outcome(speech({"input": SHORT, "voice": {"name": "x" * 10_000}}))


@case("openai.speed_nan_string", "text", 400, {"invalid_type"})
def _(): return Outcome(speech({"input": SHORT, "speed": "fast"}))


# --- uploads -------------------------------------------------------------------------------------

@case("uploads.empty_file", "uploads", 400, {"missing_field", "invalid_audio"})
def _(): return upload_case(uname("empty"), b"")


@case("uploads.header_only_wav", "uploads", 400, {"invalid_audio"})
def _(): return upload_case(uname("hdr"), M["ref.wav"][:44])


@case("uploads.truncated_in_header", "uploads", 400, {"invalid_audio"})
def _(): return upload_case(uname("trunc"), M["ref.wav"][:30])


@case("uploads.truncated_short", "uploads", refusal, {"invalid_audio"})
def _(): return upload_case(uname("trunc"), M["ref.wav"][:4001])


@case("uploads.truncated_long", "uploads", (201, 400), {"invalid_audio"})
def _():
    data = M["long.wav"]
    return upload_case(uname("trunc"), data[:int(len(data) * 0.75) | 1])


@case("uploads.non_audio_random", "uploads", 400, {"invalid_audio"})
def _(): return upload_case(uname("rand"), random.Random(7).randbytes(200_000), filename="noise.wav")


@case("uploads.non_audio_elf", "uploads", 400, {"invalid_audio"})
def _():
    with open(S.binary, "rb") as f:
        return upload_case(uname("elf"), f.read(300_000), filename="voice.mp3", ctype="audio/mpeg")


@case("uploads.non_audio_text", "uploads", 400, {"invalid_audio"})
def _(): return upload_case(uname("txt"), b"This is not a recording.\n" * 500, filename="a.ogg", ctype="audio/ogg")


@case("uploads.wav_huge_declared_sizes", "uploads", refusal, {"invalid_audio"})
def _(): return upload_case(uname("big"), wav_bytes(M.ref_floats[:30_000], M.ref_rate, data_size=0xFFFFFFF0, riff_size=0xFFFFFFFF))


@case("uploads.wav_absurd_format", "uploads", 400, {"invalid_audio"})
def _():
    fmt = struct.pack("<HHIIHH", 1, 65535, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFF, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", 0xFFFFFFF0) + b"\x01\x02" * 20_000
    return upload_case(uname("fmt"), b"RIFF" + struct.pack("<I", len(body)) + body)


@case("uploads.wav_chunk_past_end", "uploads", 400, {"invalid_audio"})
def _():
    w = M["ref.wav"]
    # A LIST chunk that claims 4 GB right after the header: the data chunk is unreachable.
    return upload_case(uname("list"), w[:36] + b"LIST" + struct.pack("<I", 0xFFFFFFF0) + w[36:])


@case("uploads.content_length_10gb", "uploads", 413, {"payload_too_large"})
def _():
    boundary, body = multipart([{"name": "name", "data": uname("10g")},
                                {"name": "file", "data": M["ref.wav"][:50_000], "filename": "a.wav"}])
    c = Conn(15)
    c.send(Conn.head("POST", "/v1/voices", [], True, f"multipart/form-data; boundary={boundary}", 10 * 1024 ** 3))
    c.send_body([body[:20_000]])
    if c.read_head():
        c.read_body()
    c.close()
    r = _record(c.resp)
    return Outcome(r, problems=[] if r.status == 0 or r.elapsed < 5 else [f"took {r.elapsed:.1f} s to refuse"])


@case("uploads.over_limit_content_length", "uploads", 413, {"payload_too_large"})
def _(): return upload_case(uname("big"), M["ref96k6.wav"])


@case("uploads.over_limit_chunked", "uploads", 413, {"payload_too_large"})
def _(): return upload_case(uname("big"), M["ref96k6.wav"], chunked=True)


@case("uploads.content_length_shorter_than_body", "uploads", 400, {"invalid_multipart", "missing_field"})
def _():
    boundary, body = multipart([{"name": "name", "data": uname("lie")},
                                {"name": "file", "data": M["ref.wav"], "filename": "a.wav"}])
    return Outcome(request("POST", "/v1/voices", body, content_type=f"multipart/form-data; boundary={boundary}", length=300))


@case("uploads.hour_of_silence_flac", "uploads", refusal, {"invalid_audio"})
def _(): return upload_case(uname("hour"), M["hour.flac"], filename="hour.flac", ctype="audio/flac")


@case("uploads.silence_7s", "uploads", refusal, {"invalid_audio"})
def _(): return upload_case(uname("silent"), wav_bytes([0.0] * (7 * 16000), 16000))


@case("uploads.too_short", "uploads", refusal, {"invalid_audio"})
def _(): return upload_case(uname("short"), M["short.wav"])


@case("uploads.nan_float_wav", "uploads", refusal, {"invalid_audio"})
def _(): return upload_case(uname("nan"), wav_bytes([float("nan")] * (7 * 16000), 16000, fmt="float32"))


@case("uploads.inf_float_wav", "uploads", refusal, {"invalid_audio"})
def _():
    return upload_case(uname("inf"), wav_bytes([float("inf"), float("-inf")] * (7 * 8000), 16000, fmt="float32"))


@case("uploads.nan_sprinkled_speech", "uploads", (201, 400), {"invalid_audio"})
def _():
    samples = [float("nan") if i % 97 == 0 else s for i, s in enumerate(M.ref_floats)]
    return upload_case(uname("nans"), wav_bytes(samples, M.ref_rate, fmt="float32"))


@case("uploads.8khz_mono", "uploads", 201)
def _(): return upload_case(uname("8k"), M["ref8k.wav"])


@case("uploads.96khz_6ch_flac", "uploads", 201)
def _(): return upload_case(uname("96k6"), M["ref96k6.flac"], filename="six.flac", ctype="audio/flac")


@case("uploads.flac", "uploads", 201)
def _(): return upload_case(uname("flac"), M["ref.flac"], filename="ref.flac", ctype="audio/flac")


@case("uploads.ogg_vorbis", "uploads", 201)
def _(): return upload_case(uname("ogg"), M["ref.ogg"], filename="ref.ogg", ctype="audio/ogg")


@case("uploads.mp3", "uploads", 201)
def _():
    if M.sox_mp3:
        return upload_case(uname("mp3"), M["ref.mp3"], filename="ref.mp3", ctype="audio/mpeg")
    made = speech({"input": REF_TEXT, "response_format": "mp3"}, timeout=60)
    if made.status != 200 or not made.body:
        return Outcome(got=f"mp3 not made: {made.short()}", problems=["could not make an MP3 (sox cannot, and the server's mp3 failed)"])
    o = upload_case(uname("mp3"), made.body, filename="ref.mp3", ctype="audio/mpeg")
    o.note = "MP3 from the server's own mp3 output (sox has no MP3 writer here)"
    return o


@case("uploads.opus", "uploads", 201)
def _():
    made = speech({"input": REF_TEXT, "response_format": "opus"}, timeout=60)
    if made.status != 200 or not made.body:
        return Outcome(got=f"opus not made: {made.short()}", problems=[f"could not make an Opus file: {made.short()}"])
    return upload_case(uname("opus"), made.body, filename="ref.opus", ctype="audio/ogg")


@case("uploads.multipart_no_boundary", "uploads", 400, {"invalid_content_type", "invalid_multipart"})
def _():
    _, body = multipart([{"name": "name", "data": uname("mp")}, {"name": "file", "data": M["ref.wav"], "filename": "a.wav"}])
    return Outcome(request("POST", "/v1/voices", body, content_type="multipart/form-data"))


@case("uploads.multipart_wrong_boundary", "uploads", 400, {"invalid_multipart"})
def _():
    _, body = multipart([{"name": "name", "data": uname("mp")}, {"name": "file", "data": M["ref.wav"], "filename": "a.wav"}])
    return Outcome(request("POST", "/v1/voices", body, content_type="multipart/form-data; boundary=somethingelse"))


@case("uploads.multipart_no_closing_delimiter", "uploads", 400, {"invalid_multipart"})
def _():
    boundary, body = multipart([{"name": "name", "data": uname("mp")}, {"name": "file", "data": M["ref.wav"], "filename": "a.wav"}])
    body = body[: body.rindex(b"\r\n--" + boundary.encode())]
    return Outcome(request("POST", "/v1/voices", body, content_type=f"multipart/form-data; boundary={boundary}"))


@case("uploads.multipart_part_without_name", "uploads", 400, {"invalid_multipart", "missing_field"})
def _():
    boundary, body = multipart([{"name": "name", "data": uname("mp")},
                                {"disposition": 'form-data; filename="a.wav"', "data": M["ref.wav"]}])
    return Outcome(request("POST", "/v1/voices", body, content_type=f"multipart/form-data; boundary={boundary}"))


@case("uploads.multipart_headers_never_end", "uploads", 400, {"invalid_multipart"})
def _():
    boundary = "hxb" + secrets.token_hex(4)
    body = f"--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\nX-Junk: ".encode() + b"y" * 100_000
    return Outcome(request("POST", "/v1/voices", body, content_type=f"multipart/form-data; boundary={boundary}"))


@case("uploads.multipart_missing_file", "uploads", 400, {"missing_field"})
def _():
    boundary, body = multipart([{"name": "name", "data": uname("mp")}])
    return Outcome(request("POST", "/v1/voices", body, content_type=f"multipart/form-data; boundary={boundary}"))


@case("uploads.multipart_missing_name", "uploads", 400, {"missing_field"})
def _():
    boundary, body = multipart([{"name": "file", "data": M["ref.wav"], "filename": "a.wav"}])
    return Outcome(request("POST", "/v1/voices", body, content_type=f"multipart/form-data; boundary={boundary}"))


@case("uploads.multipart_10k_parts", "uploads", (201, 400, 413), {"invalid_multipart", "payload_too_large"})
def _():
    name = uname("parts")
    parts = [{"name": f"junk{i}", "data": "x"} for i in range(10_000)]
    boundary, body = multipart(parts + [{"name": "name", "data": name}, {"name": "file", "data": M["ref.wav"], "filename": "a.wav"}])
    r = request("POST", "/v1/voices", body, content_type=f"multipart/form-data; boundary={boundary}")
    return Outcome(r, problems=after_upload(r, name) + ([] if r.elapsed < 10 else [f"took {r.elapsed:.1f} s"]))


@case("uploads.json_instead_of_multipart", "uploads", 400, {"invalid_content_type"})
def _():
    body = json.dumps({"name": uname("json"), "file": base64.b64encode(M["ref.wav"][:20_000]).decode()})
    return Outcome(request("POST", "/v1/voices", body, content_type="application/json"))


@case("uploads.no_content_type", "uploads", 400, {"invalid_content_type"})
def _(): return Outcome(request("POST", "/v1/voices", M["ref.wav"]))


# --- HTTP abuse ----------------------------------------------------------------------------------

def queue_idle(within):
    """Seconds until /healthz shows no active or waiting synthesis, or None."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        _, h = health()
        q = (h or {}).get("queue") or {}
        if q.get("active") == 0 and q.get("waiting") == 0:
            return time.monotonic() - start
        time.sleep(0.1)
    return None


def stream_and_drop(payload, read_bytes, reset):
    c = Conn(30)
    body = json.dumps({"response_format": "wav", "stream": True, **payload}).encode()
    c.send(Conn.head("POST", "/v1/audio/speech", [], True, "application/json", len(body)) + body)
    got = "sent only"
    if read_bytes is not None and c.read_head():
        got = f"{c.resp.status}"
        if read_bytes:
            deadline = time.monotonic() + 30
            while len(c.buf) < read_bytes and c._fill(deadline):
                pass
            got += f", read {len(c.buf)} bytes"
    c.close(reset=reset)
    return got


def disconnect_case(payload, read_bytes, reset=False, repeat=1, within=5.0):
    gots = [stream_and_drop(payload, read_bytes, reset) for _ in range(repeat)]
    took = queue_idle(within)
    problems = [] if took is not None else [f"queue.active not back to 0 within {within:.0f} s (a slot leaks)"]
    return Outcome(got=f"{gots[-1]}; queue idle after {took:.1f} s" if took is not None else f"{gots[-1]}; queue busy",
                   problems=problems)


@case("http.disconnect_after_headers", "http", "stream closed after its headers; queue.active 0 within 5 s")
def _(): return disconnect_case({"input": LONG_STREAM}, read_bytes=0)


@case("http.disconnect_after_first_audio", "http", "stream closed after 2 KB; queue.active 0 within 5 s")
def _(): return disconnect_case({"input": LONG_STREAM}, read_bytes=2048)


@case("http.disconnect_before_answer", "http", "closed right after sending; queue.active 0 within 5 s")
def _(): return disconnect_case({"input": LONG_STREAM}, read_bytes=None)


@case("http.disconnect_reset_x2", "http", "2 streams reset (RST) after 1 KB; queue.active 0 within 5 s")
def _(): return disconnect_case({"input": LONG_STREAM}, read_bytes=1024, reset=True, repeat=2)


@case("http.disconnect_cloned_voice", "http", "cloned-voice stream closed after 1 KB; queue.active 0 within 5 s")
def _():
    if not SPEAKABLE:
        return Outcome(got="skipped", note="no Chatterbox test model")
    return disconnect_case({"input": LONG_STREAM[:800], "voice": KEEPER}, read_bytes=1024)


@case("http.disconnect_whole_request", "http", "non-streamed request abandoned; queue.active 0 within 10 s")
def _():
    c = Conn(30)
    body = json.dumps({"input": "Two sentences are enough here. The client is gone before they are spoken.",
                       "response_format": "wav"}).encode()
    c.send(Conn.head("POST", "/v1/audio/speech", [], True, "application/json", len(body)) + body)
    c.close()
    took = queue_idle(10)
    return Outcome(got=f"queue idle after {took:.1f} s" if took is not None else "queue busy",
                   problems=[] if took is not None else ["queue.active not back to 0 within 10 s"])


@case("http.slow_headers", "http", "3 clients send a header byte per second; others answered < 5 s")
def _():
    conns = []
    for _ in range(3):
        c = Conn(10)
        c.send(b"POST /v1/audio/speech HTTP/1.1\r\n")
        conns.append(c)
    header = f"Authorization: Bearer {Ctx.key}\r\nX-Slow: ".encode()
    stop = threading.Event()

    def drip():
        i = 0
        while not stop.is_set() and i < 8:
            for c in conns:
                try:
                    c.sock.sendall(header[i:i + 1] if i < len(header) else b"z")
                except OSError:
                    pass
            i += 1
            stop.wait(1.0)
    t = threading.Thread(target=drip)
    t0 = time.monotonic()
    t.start()
    time.sleep(2.5)
    r = speech({"input": "Answered while slow clients drip."}, timeout=30)
    h, _ = health()
    stop.set()
    t.join()
    closed = 0
    for c in conns:
        try:
            c.sock.setblocking(False)
            closed += c.sock.recv(1) == b""
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        c.close()
    problems = []
    if r.status != 200 or r.elapsed > 5:
        problems.append(f"a normal request during the slow clients answered {r.short()} in {r.elapsed:.1f} s")
    if h.status != 200:
        problems.append(f"/healthz answered {h.short()}")
    note = f"{closed} of 3 slow connections closed by the server after {time.monotonic() - t0:.0f} s"
    return Outcome(got=f"{r.status} in {r.elapsed:.1f} s; {closed}/3 slow closed", problems=problems, note=note)


@case("http.many_idle_connections", "http", "300 idle sockets held; a normal request answered < 5 s")
def _():
    idle = []
    for i in range(300):
        try:
            s = socket.create_connection(("127.0.0.1", Ctx.port), timeout=5)
            if i % 2:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # half of them stop mid-headers
            idle.append(s)
        except OSError:
            break
    time.sleep(0.5)
    h, _ = health()
    r = speech({"input": "Still answering."}, timeout=30)
    closed = 0
    for s in idle:
        try:
            s.setblocking(False)
            closed += s.recv(1) == b""
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
        s.close()
    problems = []
    if len(idle) < 300:
        problems.append(f"only {len(idle)} connections could be opened")
    if h.status != 200 or h.elapsed > 5:
        problems.append(f"/healthz answered {h.short()} in {h.elapsed:.1f} s")
    if r.status != 200 or r.elapsed > 5:
        problems.append(f"speech answered {r.short()} in {r.elapsed:.1f} s")
    return Outcome(got=f"opened {len(idle)}; healthz {h.status} {h.elapsed:.2f} s; speech {r.status} {r.elapsed:.2f} s; "
                       f"{closed} closed by server", problems=problems)


@case("http.huge_header", "http", (0, 400, 431), audio=False, protocol=True)
def _(): return Outcome(request("GET", "/v1/models", headers=[("X-Huge", "h" * 200_000)], timeout=10))


@case("http.garbage_request_line", "http", (0, 400), audio=False, protocol=True)
def _():
    c = Conn(10)
    c.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 GARBAGE \r\n\r\n")
    if c.read_head():
        c.read_body()
    c.close()
    return Outcome(_record(c.resp))


@case("http.timeout_leaves_server_healthy", "http", "a second server, --timeout 3: 504, then it still speaks")
def _():
    """A request cut by the timeout must not mark the engine as broken for everyone after it."""
    other = Server(S.binary, S.base, S.chatterbox, timeout=3, home="home-timeout")
    Ctx.secrets_sent.append(other.key)
    saved = (Ctx.port, Ctx.key)
    problems, got = [], "server did not start"
    try:
        other.start()
        deadline = time.monotonic() + 30  # the engine warms up at start; wait for it
        while time.monotonic() < deadline and not (health()[1] or {}).get("loaded_voices"):
            time.sleep(0.2)
        warm = speech({"input": "Warm up."}, timeout=30)
        # One long sentence with no punctuation (minutes of audio): the timeout strikes before its
        # first and only piece of audio. The server is killed right after, which ends that work.
        slow = speech({"input": " ".join(["the quick brown fox jumps over the lazy dog"] * 90)}, timeout=30)
        if warm.status != 200:
            problems.append(f"a short request before the timeout answered {warm.short()}")
        if slow.status != 504:
            problems.append(f"expected 504 timeout, got {slow.short()}")
        elif (slow.error_fields() or {}).get("code") != "timeout":
            problems.append(f"504 with code {(slow.error_fields() or {}).get('code')!r}")
        time.sleep(0.5)
        after = speech({"input": "Still speaking after a timeout."}, timeout=30)
        _, h = health()
        if after.status != 200:
            problems.append(f"after the timeout a short request answers {after.short()}")
        if "failed" in str((h or {}).get("plan", "")):
            problems.append(f"/healthz plan says {h.get('plan')!r} (the timeout marked the engine broken)")
        got = f"warm {warm.status}, long {slow.status}, then {after.status}"
    finally:
        other.stop(grace=2)
        Ctx.port, Ctx.key = saved
    return Outcome(got=got, problems=problems)


# --- auth ------------------------------------------------------------------------------------------

@case("auth.missing_key", "auth", 401, {"invalid_api_key"})
def _():
    r = request("GET", "/v1/models", auth=False)
    return Outcome(r, problems=[] if r.header("www-authenticate") else ["401 without WWW-Authenticate"])


@case("auth.wrong_key", "auth", 401, {"invalid_api_key"})
def _():
    wrong = "hx-wrong-" + secrets.token_hex(8)
    Ctx.secrets_sent.append(wrong)
    return Outcome(request("GET", "/v1/models", auth=f"Bearer {wrong}"))


@case("auth.key_prefix", "auth", 401, {"invalid_api_key"})
def _(): return Outcome(request("GET", "/v1/models", auth=f"Bearer {Ctx.key[:-1]}"))


@case("auth.key_plus_suffix", "auth", 401, {"invalid_api_key"})
def _(): return Outcome(request("GET", "/v1/models", auth=f"Bearer {Ctx.key}x"))


@case("auth.right_key", "auth", 200, audio=False)
def _():
    r = request("GET", "/v1/models")
    return Outcome(r, problems=[] if isinstance(r.json(), dict) else ["/v1/models is not JSON"])


@case("auth.lowercase_scheme", "auth", 200, audio=False)
def _(): return Outcome(request("GET", "/v1/models", auth=f"bearer {Ctx.key}"))


@case("auth.basic_scheme", "auth", 401, {"invalid_api_key"})
def _(): return Outcome(request("GET", "/v1/models", auth="Basic " + base64.b64encode(f"user:{Ctx.key}".encode()).decode()))


@case("auth.token_scheme", "auth", 401, {"invalid_api_key"})
def _(): return Outcome(request("GET", "/v1/models", auth=f"Token {Ctx.key}"))


@case("auth.bare_key", "auth", 401, {"invalid_api_key"})
def _(): return Outcome(request("GET", "/v1/models", auth=Ctx.key))


@case("auth.x_api_key_header", "auth", 401, {"invalid_api_key"})
def _(): return Outcome(request("GET", "/v1/models", auth=False, headers=[("X-API-Key", Ctx.key)]))


@case("auth.key_in_query", "auth", 401, {"invalid_api_key"})
def _(): return Outcome(request("GET", f"/v1/models?api_key={Ctx.key}", auth=False))


@case("auth.bearer_empty", "auth", 401, {"invalid_api_key"})
def _(): return Outcome(request("GET", "/v1/models", auth="Bearer "))


@case("auth.key_with_nul", "auth", (0, 400, 401), {"invalid_api_key"}, protocol=True)
def _(): return Outcome(request("GET", "/v1/models", auth=f"Bearer {Ctx.key}\x00"))


@case("auth.speech_without_key", "auth", 401, {"invalid_api_key"})
def _(): return Outcome(speech({"input": SHORT}, auth=False))


@case("auth.upload_without_key", "auth", 401, {"invalid_api_key"})
def _():
    name = uname("noauth")
    r = upload(name, M["ref.wav"], auth=False)
    return Outcome(r, problems=[f"'{name}' was stored without a key"] if name in voices() else [])


@case("auth.delete_without_key", "auth", 401, {"invalid_api_key"})
def _():
    r = request("DELETE", f"/v1/voices/{KEEPER}", auth=False)
    return Outcome(r, problems=[] if KEEPER in voices() else [f"'{KEEPER}' was deleted without a key"])


@case("auth.health_and_metrics_open", "auth", 200, audio=False)
def _():
    m = request("GET", "/metrics", auth=False)
    return Outcome(m, problems=[] if m.status == 200 else [f"/metrics answered {m.short()}"])


# --- the end ---------------------------------------------------------------------------------------

@case("final.keeper_listed_and_speakable", "final", "the voice stored at the start is listed and speaks")
def _():
    listed = voices()
    problems = [] if KEEPER in listed else [f"'{KEEPER}' is no longer listed"]
    got = "listed" if KEEPER in listed else "not listed"
    if SPEAKABLE:
        r = speech({"input": "The first voice still speaks.", "voice": KEEPER})
        problems += [] if r.status == 200 else [f"speaking with it answered {r.short()}"]
        problems += wav_ok(r)
        got += f", speech {r.status}"
    return Outcome(got=got, problems=problems)


@case("final.voice_list_clean", "final", "every listed id is a valid name; nothing escaped VOXSERVE_HOME")
def _():
    listed = voices()
    bad = [v for v in listed if not re.fullmatch(r"(?!\.)(?!.*\.\.)[A-Za-z0-9_.-]{1,64}", v or "")]
    stray = sorted(set(os.listdir(S.base)) - {"home", "media", "home.log", "home-timeout", "home-timeout.log"})
    problems = ([f"invalid ids listed: {bad}"] if bad else []) + ([f"files outside VOXSERVE_HOME: {stray}"] if stray else [])
    return Outcome(got=f"{len(listed)} voices; stray files: {len(stray)}", problems=problems)


# ----------------------------------------------------------------------------------------------
# Checks shared by every case.

def check_response(r, secret_values, internals, protocol=False):
    problems = []
    raw_headers = "\n".join(f"{k}: {v}" for k, v in r.headers)
    for s in secret_values:
        if s and (s.encode() in r.body or s in raw_headers):
            problems.append("a response carries the API key" if s == Ctx.key else "a response echoes the key sent")
    if not r.is_audio():
        text = r.body.decode("utf-8", errors="replace") + "\n" + raw_headers
        for marker in internals:
            if marker in text:
                shown = "VOXSERVE_HOME" if marker == S.home else marker
                problems.append(f"{r.status} body shows internals ({shown!r})")
                break
    if r.status >= 400 and not (protocol and r.status in (400, 431) and not r.body):
        problems += check_error_shape(r)
    return problems


def check_error_shape(r):
    e = r.error_fields()
    ctype = (r.header("content-type") or "").lower()
    if e is None:
        return [f"{r.status} is not an OpenAI-style JSON error: {r.body[:120]!r}"]
    problems = []
    if "json" not in ctype:
        problems.append(f"error Content-Type is {ctype!r}")
    missing = [k for k in ("message", "type", "param", "code") if k not in e]
    if missing:
        problems.append(f"error lacks {missing}")
    if e.get("type") not in ERROR_TYPES:
        problems.append(f"error type {e.get('type')!r}")
    if not isinstance(e.get("code"), str) or not re.fullmatch(r"[a-z0-9_]+", e.get("code") or ""):
        problems.append(f"error code {e.get('code')!r}")
    message = e.get("message")
    if not isinstance(message, str) or len(message.split()) < 4 or not re.search(r"[A-Za-z]", message):
        problems.append(f"message is not a sentence a user understands: {message!r}")
    elif "''" in message or "field ''" in message:
        problems.append(f"message names an empty field: {message!r}")
    elif len(message) > 1000:
        problems.append(f"message is {len(message)} characters long (echoes the input?)")
    if e.get("param") is not None and not isinstance(e.get("param"), str) or e.get("param") == "":
        problems.append(f"param is {e.get('param')!r}")
    return problems


def expectation_text(c):
    exp = c["expect"]() if callable(c["expect"]) else c["expect"]
    if isinstance(exp, str):
        return exp, None
    statuses = exp if isinstance(exp, tuple) else (exp,)
    parts = []
    for s in statuses:
        if s == 0:
            parts.append("close")
        elif s == 200 and c["audio"]:
            parts.append("200 audio")
        elif s >= 400 and c["codes"]:
            parts.append(f"{s} {'/'.join(sorted(c['codes']))}")
        else:
            parts.append(str(s))
    return " | ".join(parts), statuses


def after_case(c, problems, canary=True):
    """Health after the case; restarts the server when it is gone or broken."""
    if not S.alive():
        problems.append(f"the server died (exit status {S.proc.returncode}); log tail:\n{S.log_tail(8)}")
        S.restart(f"after {c['name']}: process died")
        return
    h, j = health()
    if h.status != 200:
        problems.append(f"/healthz answered {h.short()} after the case")
    elif "failed" in str((j or {}).get("plan", "")):
        problems.append(f"/healthz plan says {j.get('plan')!r}")
    if queue_idle(10) is None:
        problems.append("a synthesis slot was still busy 10 s after the case")
    if canary:
        r = speech({"input": "Canary."}, timeout=30)
        if r.status != 200:
            problems.append(f"afterwards a plain speech request answers {r.short()}: the server is broken by this case")
            S.restart(f"after {c['name']}: canary answered {r.status}")


def run_case(c, internals):
    with Ctx.lock:
        Ctx.responses = []
    expected, statuses = expectation_text(c)
    problems, got, note = [], "", ""
    start = time.monotonic()
    try:
        o = c["fn"]()
    except Exception as e:  # noqa: BLE001 - a client failure is a failed case, not a crashed suite
        o = Outcome(got="client error", problems=[f"{type(e).__name__}: {e}"])
    problems += o.problems
    note = o.note
    if o.resp is not None:
        r = o.resp
        got = r.short() if r.status == 0 else str(r.status)
        if c["protocol"] and r.status in (400, 431) and not r.body:
            note = note or f"bare {r.status} from the HTTP layer (no JSON body), then closed"
        e = r.error_fields()
        if e:
            got += f" {e.get('code')}"
        elif r.status == 200 and r.is_audio():
            got += " audio"
        if statuses is not None and r.status not in statuses:
            problems.insert(0, f"expected {expected}, got {r.short()}")
        elif r.status >= 400 and e:
            default = DEFAULT_CODES.get(r.status)
            allowed = {x for x in (c["codes"] or ()) if default is None or x in default} or default
            if allowed is not None and e.get("code") not in allowed:
                problems.append(f"code {e.get('code')!r}, expected one of {sorted(allowed)}")
        if r.status == 200 and c["audio"]:
            problems += wav_ok(r)
    else:
        got = o.got or ""
    with Ctx.lock:
        seen = list(Ctx.responses)
    for r in seen:
        for p in check_response(r, [Ctx.key] + Ctx.secrets_sent, internals, c["protocol"]):
            if p not in problems:
                problems.append(p)
    touched = o.resp is None or any(r.status == 200 or r.status >= 500 or r.status == 0 for r in seen
                                     if not (r.status == 200 and not r.is_audio()))
    after_case(c, problems, canary=c["canary"] and touched)
    with Ctx.lock:  # the health checks' own answers
        seen2 = Ctx.responses[len(seen):]
    for r in seen2:
        for p in check_response(r, [Ctx.key], internals):
            if p not in problems:
                problems.append(p)
    body = ""
    if o.resp is not None and not o.resp.is_audio():
        body = o.resp.body[:600].decode("utf-8", errors="replace")
    return dict(case=c["name"], group=c["group"], expected=expected, got=got, passed=not problems,
                why="; ".join(problems), note=note, seconds=round(time.monotonic() - start, 2), body=body,
                status=o.resp.status if o.resp is not None else None)


def print_table(results):
    cols = [("case", 36), ("group", 7), ("expected", 34), ("got", 30), ("", 4)]
    line = "  ".join(f"{name:<{w}}" for name, w in cols) + "  why"
    print(line)
    print("-" * min(len(line) + 60, 200))
    for r in results:
        why = r["why"] or r["note"]
        why = why.replace("\n", " | ")
        print("  ".join([f"{r['case'][:36]:<36}", f"{r['group']:<7}", f"{r['expected'][:34]:<34}", f"{r['got'][:30]:<30}",
                         f"{'ok' if r['passed'] else 'FAIL':<4}", why[:220]]))


def main():
    global SPEAKABLE
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, ".build/debug/voxserve"))
    ap.add_argument("--out", help="write the results as JSON here")
    ap.add_argument("--only", help="run only the cases whose name matches this regular expression")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    args = ap.parse_args()
    if args.list:
        for c in CASES:
            print(f"{c['name']:<40} {c['group']:<8} {expectation_text(c)[0] if not callable(c['expect']) else '400 (201|400 without Chatterbox)'}")
        print(f"{len(CASES)} cases")
        return 0
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        print(f"hostile: no executable at {binary}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # runs the finally clause that stops the server
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))

    deps = os.path.abspath(os.environ.get("VOXSERVE_DEPS") or os.path.join(ROOT, ".deps"))
    tiny = os.path.join(deps, "test-models", "chatterbox-tiny")
    chatterbox = tiny if os.path.isfile(os.path.join(tiny, "tokenizer.json")) or os.path.isdir(os.path.join(tiny, "onnx")) else None
    SPEAKABLE = chatterbox is not None
    base = tempfile.mkdtemp(prefix="voxserve-hostile-")
    try:
        return run_suite(args, binary, deps, tiny, chatterbox, base)
    finally:
        if os.environ.get("HOSTILE_KEEP"):
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def run_suite(args, binary, deps, tiny, chatterbox, base):
    global S, M
    media_dir = os.path.join(base, "media")
    os.makedirs(media_dir)
    notes = []
    if not SPEAKABLE:
        notes.append(f"no Chatterbox test model at {tiny} (scripts/test-fixtures.sh writes it): uploaded voices "
                     "cannot speak, so 'speakable' is checked as 'listed' and unusable recordings may be stored")
    S = Server(binary, base, chatterbox)
    M = Media(media_dir)
    cases = [c for c in CASES if not args.only or re.search(args.only, c["name"])]
    results = []
    started = time.monotonic()
    try:
        S.start()
        M.make()
        notes += M.notes
        internals = [S.home, S.base, os.path.realpath(S.base), ROOT, deps] + INTERNAL_MARKERS
        with Ctx.lock:
            Ctx.responses = []
        keeper = upload(KEEPER, M["ref.wav"])
        if keeper.status != 201:
            print(f"hostile: storing the voice '{KEEPER}' answered {keeper.short()}", file=sys.stderr)
            results.append(dict(case="setup.store_voice", group="final", expected="201", got=str(keeper.status), passed=False,
                                why=keeper.short(), note="", seconds=0, body=keeper.body[:600].decode(errors="replace"),
                                status=keeper.status))
        for c in cases:
            results.append(run_case(c, internals))
    except Exception as e:  # noqa: BLE001
        print(f"hostile: {type(e).__name__}: {e}", file=sys.stderr)
        if not results:
            return 2
        results.append(dict(case="suite", group="-", expected="runs to the end", got="aborted", passed=False,
                            why=f"{type(e).__name__}: {e}", note="", seconds=0, body="", status=None))
    finally:
        S.stop()
    elapsed = time.monotonic() - started
    key_in_log = False
    try:
        with open(S.log_path, "rb") as f:
            key_in_log = S.key.encode() in f.read()
    except OSError:
        pass
    if key_in_log:
        notes.append("the server's log contains the API key")
    if S.restarts:
        notes.append("server restarted: " + "; ".join(S.restarts))

    print_table(results)
    passed = sum(r["passed"] for r in results)
    failed = len(results) - passed
    for n in notes:
        print(f"note: {n}")
    summary = f"{len(results)} cases, {passed} passed, {failed} failed"
    print(f"{summary} ({elapsed:.0f} s)")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(dict(summary=summary, cases=len(results), passed=passed, failed=failed, seconds=round(elapsed, 1),
                           binary=binary, chatterbox=chatterbox, notes=notes, results=results), f, indent=2, ensure_ascii=False)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
