#!/usr/bin/env python3
"""Uses the web page as a person would, in headless Chromium, and checks what it shows.

Starts `voxserve serve` on a free loopback port, opens / in Chromium (driven over the DevTools
protocol on a pipe: no extra packages), waits for the voice list, types a text, clicks
Generate with the mouse, waits for the audio, then checks that the player holds audio, the
download link is there, and the time to first audio, total time, real-time factor, cache
outcome and active plan are shown. Saves a screenshot (default /tmp/voxserve-webui.png).

  scripts/webui-check.py [--bin .build/debug/voxserve] [--screenshot /tmp/voxserve-webui.png]
"""
import argparse, base64, http.client, json, os, shutil, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEXT = "Hello from the web page. This is the second sentence, spoken while the first one plays."


class DevTools:
    """Chrome DevTools protocol over --remote-debugging-pipe (fd 3 in, fd 4 out, NUL-separated JSON)."""

    def __init__(self, chromium, profile):
        import fcntl
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()
        # Move the child's ends above 4, so that placing them on 3 and 4 cannot clobber either.
        moved = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_r, from_w)]
        os.close(to_r); os.close(from_w)
        to_r, from_w = moved
        # bash moves the pipe ends to the fds Chromium expects, 3 and 4, then becomes Chromium.
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{to_r} 4>&{from_w} {to_r}<&- {from_w}>&-', chromium, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu", "--mute-audio",
             "--no-first-run", "--user-data-dir=" + profile, "--window-size=1100,900", "about:blank"],
            pass_fds=(to_r, from_w), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_r); os.close(from_w)
        self.buffer, self.next_id, self.session = b"", 0, None

    def call(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_w, json.dumps(message).encode() + b"\0")
        deadline = time.time() + timeout
        while time.time() < deadline:
            while b"\0" not in self.buffer:
                chunk = os.read(self.from_r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self.buffer += chunk
            raw, self.buffer = self.buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
        raise TimeoutError(method)

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        return result.get("result", {}).get("value")

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=5)
        except Exception:  # noqa: BLE001 - killing below anyway
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def wait(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit(f"webui-check: timed out waiting for {what}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, ".build/debug/voxserve"))
    ap.add_argument("--screenshot", default="/tmp/voxserve-webui.png")
    args = ap.parse_args()
    # Debian's /usr/bin/chromium is a wrapper script; the binary behind it keeps fds 3 and 4.
    chromium = next((c for c in ("/usr/lib/chromium/chromium",) if os.access(c, os.X_OK)), None) or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("webui-check: chromium is not installed (make webui-test installs it)")
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"webui-check: {args.bin} is not built")

    work = tempfile.mkdtemp()
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    server = subprocess.Popen([args.bin, "serve", "--host", "127.0.0.1", "--port", str(port)],
                              env=dict(os.environ, VOXSERVE_HOME=os.path.join(work, "home")),
                              stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "server.log"), "w"))
    browser = None
    try:
        def up():
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2); c.request("GET", "/healthz"); ok = c.getresponse().status == 200; c.close(); return ok
            except OSError:
                return False
        wait(up, 120, "the server")

        browser = DevTools(chromium, os.path.join(work, "profile"))
        target = browser.call("Target.createTarget", {"url": f"http://127.0.0.1:{port}/"}, session=False)
        browser.session = browser.call("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, session=False)["sessionId"]
        browser.call("Runtime.enable")
        wait(lambda: browser.evaluate("document.readyState === 'complete' && document.getElementById('voice').options.length > 0"), 60, "the voice list")

        browser.evaluate(f"(() => {{ const t = document.getElementById('text'); t.value = {json.dumps(TEXT)}; t.dispatchEvent(new Event('input')); }})()")
        rect = browser.evaluate("(() => { const r = document.getElementById('generate').getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        for kind in ("mousePressed", "mouseReleased"):
            browser.call("Input.dispatchMouseEvent", {"type": kind, "x": rect[0], "y": rect[1], "button": "left", "clickCount": 1})
        state = wait(lambda: browser.evaluate("document.body.dataset.generated"), 120, "the audio")
        time.sleep(0.3)

        shown = browser.evaluate("""(() => {
            const v = (id) => document.getElementById(id).textContent.trim();
            const player = document.getElementById('player'), link = document.getElementById('download');
            return {state: document.body.dataset.generated, status: v('status'), player: player.src, duration: player.duration,
                    download: link.hidden ? '' : link.href, ttfa: v('s-ttfa'), ttfaServer: v('s-ttfa-server'), total: v('s-total'),
                    rtf: v('s-rtf'), cache: v('s-cache'), model: v('s-model'), plan: v('s-plan'), audio: v('s-duration')};
        })()""")
        png = browser.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(args.screenshot, "wb") as f:
            f.write(base64.b64decode(png))

        seconds = lambda s: s.endswith(" s") and float(s[:-2]) > 0
        checks = {
            "generation finished": state == "1",
            "player holds the audio": shown["player"].startswith("blob:") and (shown["duration"] or 0) > 1,
            "download link": shown["download"].startswith("blob:"),
            "time to first audio": seconds(shown["ttfa"]) and seconds(shown["ttfaServer"]),
            "first audio before the end": seconds(shown["ttfa"]) and seconds(shown["total"]) and float(shown["ttfa"][:-2]) < float(shown["total"][:-2]),
            "total time": seconds(shown["total"]),
            "real-time factor": shown["rtf"].replace(".", "", 1).isdigit(),
            "voice cache": shown["cache"] not in ("", "–"),
            "active plan": shown["plan"] not in ("", "–"),
        }
        for name, ok in checks.items():
            print(("ok   " if ok else "FAIL ") + name)
        print("shown:", json.dumps({k: shown[k] for k in ("status", "ttfa", "ttfaServer", "total", "audio", "rtf", "cache", "model", "plan")}))
        print("screenshot:", args.screenshot)
        failed = sum(not ok for ok in checks.values())
        print(f"webui: {len(checks) - failed} passed, {failed} failed")
        return 0 if failed == 0 else 1
    finally:
        if browser:
            browser.close()
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
