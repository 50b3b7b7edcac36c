#!/usr/bin/env python3
"""Time to first audio byte vs full synthesis time, over HTTP, for a five-sentence input.

Sends the same text to a running VoxServe twice per round: once with "stream": true (time to
the first byte of audio after the WAV header, and to the last byte), once whole (time to the
complete response). Prints the median of ROUNDS rounds, as a table and as JSON.

  scripts/bench-stream.py [--url http://127.0.0.1:8080] [--rounds 5]
"""
import argparse, http.client, json, statistics, sys, time, urllib.parse

TEXT = ("The quick brown fox jumps over the lazy dog. "
        "Streaming lets a listener hear the first sentence while the rest is still being made. "
        "Each sentence is synthesized on its own and sent as soon as it is ready. "
        "A long answer therefore starts to play almost at once. "
        "This is the fifth and last sentence of the benchmark.")


def post(url, body, stream):
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=300)
    payload = json.dumps(body).encode()
    start = time.perf_counter()
    conn.request("POST", "/v1/audio/speech", payload, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise SystemExit(f"HTTP {resp.status}: {resp.read()[:300]!r}")
    first_audio, received, header_left = None, 0, 44 if stream else 0
    while True:
        data = resp.read1(65536) if stream else resp.read()
        if not data:
            break
        received += len(data)
        if first_audio is None and received > header_left:
            first_audio = time.perf_counter() - start
        if not stream:
            break
    total = time.perf_counter() - start
    conn.close()
    return first_audio, total, received, dict(resp.getheaders())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--voice", default=None)
    args = ap.parse_args()
    body = {"input": TEXT, "response_format": "wav"}
    if args.voice:
        body["voice"] = args.voice
    post(args.url, dict(body, stream=True), True)  # warm-up, not counted
    ttfa, stream_total, whole_total, audio_seconds = [], [], [], 0.0
    for _ in range(args.rounds):
        first, total, received, headers = post(args.url, dict(body, stream=True), True)
        rate = int(headers.get("X-Vox-Sample-Rate", "22050"))
        audio_seconds = (received - 44) / 2 / rate
        ttfa.append(first)
        stream_total.append(total)
        _, total, _, _ = post(args.url, dict(body, stream=False), False)
        whole_total.append(total)
    med = statistics.median
    result = {
        "sentences": 5, "characters": len(TEXT), "rounds": args.rounds, "audio_seconds": round(audio_seconds, 3),
        "stream_time_to_first_audio_s": round(med(ttfa), 4), "stream_total_s": round(med(stream_total), 4),
        "whole_response_s": round(med(whole_total), 4),
    }
    print(f"five sentences, {len(TEXT)} characters, {audio_seconds:.2f} s of audio; median of {args.rounds} rounds")
    print(f"  streamed: first audio byte after {result['stream_time_to_first_audio_s']*1000:.0f} ms, last after {result['stream_total_s']*1000:.0f} ms")
    print(f"  whole:    complete response after {result['whole_response_s']*1000:.0f} ms")
    print(f"  first audio arrives {result['whole_response_s']/result['stream_time_to_first_audio_s']:.1f}x sooner streamed")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
