#!/usr/bin/env python3
"""Drives VoxServe's Wyoming server with the `wyoming` library, the client Home Assistant uses,
and prints what it saw as one JSON object. VoxServe's tests (WyomingTests.swift) run it with the
pinned library in .deps/venv and check the JSON; it is also handy by hand:

    .deps/venv/bin/python scripts/wyoming_client.py --port 10200 describe
    .deps/venv/bin/python scripts/wyoming_client.py --port 10200 synthesize --text "Hello there."
    .deps/venv/bin/python scripts/wyoming_client.py --port 10200 stream --chunks '["Hel", "lo. Wor", "ld."]'
    .deps/venv/bin/python scripts/wyoming_client.py --port 10200 latency --runs 20
"""

import argparse
import asyncio
import json
import time
import urllib.request

from wyoming.audio import AudioChunk, AudioStart
from wyoming.client import AsyncTcpClient
from wyoming.error import Error
from wyoming.event import Event, async_write_event
from wyoming.info import Describe, Info
from wyoming.ping import Ping, Pong
from wyoming.tts import (
    Synthesize,
    SynthesizeChunk,
    SynthesizeStart,
    SynthesizeStop,
    SynthesizeStopped,
    SynthesizeVoice,
)

TIMEOUT = 60


def voice_of(args):
    if args.voice or args.speaker or args.language:
        return SynthesizeVoice(name=args.voice, language=args.language, speaker=args.speaker)
    return None


async def read_events(client, start, until, log):
    """Reads events into `log` (type, seconds since `start`, payload bytes, data) until one whose
    type is in `until`, an `error`, or the end of the connection."""
    while True:
        event = await asyncio.wait_for(client.read_event(), TIMEOUT)
        now = time.monotonic() - start
        if event is None:
            log.append({"type": "<closed>", "t": now})
            return
        entry = {"type": event.type, "t": now, "bytes": len(event.payload or b"")}
        if AudioStart.is_type(event.type):
            start_event = AudioStart.from_event(event)
            entry["format"] = [start_event.rate, start_event.width, start_event.channels]
        elif AudioChunk.is_type(event.type):
            chunk = AudioChunk.from_event(event)
            entry["format"] = [chunk.rate, chunk.width, chunk.channels]
        elif Error.is_type(event.type):
            error = Error.from_event(event)
            entry["text"], entry["code"] = error.text, error.code
        log.append(entry)
        if event.type in until or Error.is_type(event.type):
            return


def summary(log):
    """The log with consecutive audio-chunks folded into one entry (count, bytes, first time)."""
    folded = []
    for entry in log:
        if entry["type"] == "audio-chunk" and folded and folded[-1]["type"] == "audio-chunk":
            folded[-1]["count"] += 1
            folded[-1]["bytes"] += entry["bytes"]
            if entry["format"] != folded[-1]["format"]:
                folded[-1]["mixed_format"] = True
        else:
            folded.append(dict(entry, count=1))
    return folded


async def describe(args):
    async with AsyncTcpClient(args.host, args.port) as client:
        await client.write_event(Describe().event())
        event = await asyncio.wait_for(client.read_event(), TIMEOUT)
        info = Info.from_event(event)  # the library's own parsing: it must accept what we send
        await client.write_event(Ping(text="still there?").event())
        pong = await asyncio.wait_for(client.read_event(), TIMEOUT)
    return {
        "type": event.type,
        "pong": Pong.from_event(pong).text if Pong.is_type(pong.type) else None,
        "tts": [
            {
                "name": program.name,
                "installed": program.installed,
                "streaming": program.supports_synthesize_streaming,
                "voices": [
                    {
                        "name": voice.name,
                        "languages": voice.languages,
                        "speakers": [s.name for s in voice.speakers] if voice.speakers else None,
                        "attribution": voice.attribution.name,
                        "installed": voice.installed,
                        "description": voice.description,
                        "version": voice.version,
                    }
                    for voice in program.voices
                ],
            }
            for program in info.tts
        ],
        "asr": len(info.asr),
    }


async def synthesize(args):
    log = []
    async with AsyncTcpClient(args.host, args.port) as client:
        start = time.monotonic()
        await client.write_event(Synthesize(text=args.text, voice=voice_of(args)).event())
        await read_events(client, start, {"audio-stop"}, log)
        if log[-1]["type"] == "error":  # the server closes after an error
            event = await asyncio.wait_for(client.read_event(), TIMEOUT)
            log.append({"type": "<closed>" if event is None else event.type, "t": time.monotonic() - start})
    return {"events": summary(log)}


async def stream(args):
    """A streamed text, as Home Assistant sends a language model's answer: synthesize-start, the
    pieces with `delay` between them, the compatibility `synthesize` with the whole text, then
    synthesize-stop. Events are read while pieces are still being sent."""
    chunks = json.loads(args.chunks)
    log, sent = [], []
    async with AsyncTcpClient(args.host, args.port) as client:
        start = time.monotonic()
        reader = asyncio.create_task(read_events(client, start, {"synthesize-stopped"}, log))
        await client.write_event(SynthesizeStart(voice=voice_of(args)).event())
        for chunk in chunks:
            await client.write_event(SynthesizeChunk(text=chunk).event())
            sent.append(time.monotonic() - start)
            await asyncio.sleep(args.delay)
        await client.write_event(Synthesize(text="".join(chunks), voice=voice_of(args)).event())
        await client.write_event(SynthesizeStop().event())
        await reader
        # Nothing may follow synthesize-stopped (the compatibility synthesize must not be spoken).
        try:
            extra = await asyncio.wait_for(client.read_event(), 1.0)
            if extra is not None:
                log.append({"type": extra.type, "t": time.monotonic() - start, "bytes": len(extra.payload or b"")})
        except asyncio.TimeoutError:
            pass
    return {"events": summary(log), "sent": sent, "stopped_last": SynthesizeStopped.is_type(log[-1]["type"])}


async def raw(args):
    """Bytes that are not a good frame: returns how long the server took to close the connection."""
    reader, writer = await asyncio.open_connection(args.host, args.port)
    frames = {
        "garbage": b"this is not json\n",
        "no-type": b'{"data_length": 0}\n',
        "oversized": json.dumps({"type": "synthesize", "data_length": 10**9}).encode() + b"\n",
        "negative": json.dumps({"type": "synthesize", "data_length": -5}).encode() + b"\n",
        "endless-header": b'{"type": "' + b"x" * 200_000,
        "stall": json.dumps({"type": "synthesize", "data_length": 100}).encode() + b"\n" + b'{"text": "',
    }
    start = time.monotonic()
    writer.write(frames[args.kind])
    await writer.drain()
    received = b""
    try:
        while True:
            data = await asyncio.wait_for(reader.read(65536), TIMEOUT)
            if not data:
                break
            received += data
    except (ConnectionResetError, BrokenPipeError):
        pass
    writer.close()
    return {"closed_after": time.monotonic() - start, "received": len(received)}


async def stall_while_speaking(args):
    """Starts a synthesis, reads its audio-start, then sends half a frame and goes quiet."""
    reader, writer = await asyncio.open_connection(args.host, args.port)
    start = time.monotonic()
    await async_write_event(Synthesize(text=args.text).event(), writer)
    line = await asyncio.wait_for(reader.readline(), TIMEOUT)
    first = json.loads(line)["type"]
    writer.write(json.dumps({"type": "ping", "data_length": 50}).encode() + b"\n{")
    await writer.drain()
    try:
        while await asyncio.wait_for(reader.read(65536), TIMEOUT):
            pass
    except (ConnectionResetError, BrokenPipeError):
        pass
    writer.close()
    return {"first": first, "closed_after": time.monotonic() - start}


async def over_limit(args):
    """Holds one connection open and opens another: what does the second get?"""
    async with AsyncTcpClient(args.host, args.port) as held:
        await held.write_event(Describe().event())
        await asyncio.wait_for(held.read_event(), TIMEOUT)
        log = []
        async with AsyncTcpClient(args.host, args.port) as extra:
            await read_events(extra, time.monotonic(), set(), log)
            if log[-1]["type"] == "error":
                event = await asyncio.wait_for(extra.read_event(), TIMEOUT)
                log.append({"type": "<closed>" if event is None else event.type})
        await held.write_event(Describe().event())
        still = await asyncio.wait_for(held.read_event(), TIMEOUT)
    return {"extra": log, "held": still.type if still else None}


async def latency(args):
    """Medians and worst of `runs` tries: from `synthesize` to its first audio-chunk, and, in a
    streamed text, from the piece that completes the first sentence to that sentence's first
    audio-chunk (the pieces: "The first sente" / "nce is done. The sec" / "ond follows." with
    `delay` between them)."""
    whole, streamed = [], []
    for _ in range(args.runs):
        result = await synthesize(argparse.Namespace(**dict(vars(args), text="The first sentence is done.")))
        whole.append(next(e["t"] for e in result["events"] if e["type"] == "audio-chunk"))
        args.chunks = json.dumps(["The first sente", "nce is done. The sec", "ond follows."])
        result = await stream(args)
        first = next(e["t"] for e in result["events"] if e["type"] == "audio-chunk")
        streamed.append(first - result["sent"][1])

    def stats(values):
        values = sorted(values)
        return {"median_ms": 1000 * values[len(values) // 2], "max_ms": 1000 * values[-1], "runs": len(values)}

    return {"synthesize_to_first_chunk": stats(whole), "completing_piece_to_first_chunk": stats(streamed)}


async def with_http(args):
    """A Wyoming synthesis and an HTTP speech request at the same time."""

    def http():
        started = time.monotonic()
        body = json.dumps({"input": args.text, "response_format": "wav"}).encode()
        request = urllib.request.Request(
            f"http://{args.host}:{args.http_port}/v1/audio/speech", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return {"status": response.status, "bytes": len(response.read()), "seconds": time.monotonic() - started}

    wyoming, web = await asyncio.gather(synthesize(args), asyncio.to_thread(http))
    return {"wyoming": wyoming, "http": web}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--http-port", type=int)
    parser.add_argument("--voice")
    parser.add_argument("--speaker")
    parser.add_argument("--language")
    parser.add_argument("--text", default="Hello from Wyoming.")
    parser.add_argument("--chunks", default="[]", help="JSON list of text pieces for `stream`")
    parser.add_argument("--delay", type=float, default=0.2, help="seconds between pieces for `stream`")
    parser.add_argument("--kind", default="garbage", help="what `raw` sends")
    parser.add_argument("--runs", type=int, default=10, help="tries for `latency`")
    parser.add_argument(
        "scenario", choices=["describe", "synthesize", "stream", "raw", "stall-while-speaking", "over-limit", "with-http", "latency"]
    )
    args = parser.parse_args()
    scenario = {
        "describe": describe,
        "synthesize": synthesize,
        "stream": stream,
        "raw": raw,
        "stall-while-speaking": stall_while_speaking,
        "over-limit": over_limit,
        "latency": latency,
        "with-http": with_http,
    }[args.scenario]
    print(json.dumps(asyncio.run(scenario(args))))


if __name__ == "__main__":
    main()
