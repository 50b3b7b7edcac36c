#!/usr/bin/env python3
"""Drives a VoxServe server with the official OpenAI Python SDK (pinned in the test venv), the way
its documentation shows, and prints what each call gave as one JSON object: {name: result}.

Each result holds what was measured, never a verdict on thresholds (the Swift test judges):
  status    HTTP status (200 for a call that returned normally)
  error     the SDK's exception class and message, when it raised
  seconds   duration of the returned audio, decoded by Debian's ffmpeg (not by VoxServe)
  rate      the sample rate it decoded at; codec: what ffprobe calls the stream
  ttfb, total   seconds to the first body byte and to the last (streaming calls)
  plus call-specific fields (header values, event counts, ids).

  scripts/openai_sdk_check.py --base-url http://127.0.0.1:8080/v1 --api-key KEY
"""
import argparse, asyncio, base64, json, subprocess, sys, time

import openai
from openai import OpenAI, AsyncOpenAI

THREE = "Hello there. This is the second sentence. And here is a third one, a little longer than the others."
FIVE = ("The first sentence is short. "
        "The second sentence is a good deal longer, and it carries on for a while before it reaches its end. "
        "A third sentence keeps the stream going with a few more clauses, some commas, and a little more to say. "
        "The fourth sentence is almost the last one, but it too takes its time before it finally stops. "
        "And the fifth sentence closes this paragraph, having waited patiently for all the others to finish.")
STILL = {"noise_scale": 0, "noise_w": 0}  # VoxServe's extensions: the same audio every time


def decode(data, fmt):
    """Seconds of audio in `data` and the codec, by ffmpeg/ffprobe; raises when they cannot read it."""
    source = ["-f", "s16le", "-ar", "24000", "-ac", "1"] if fmt == "pcm" else []
    out = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", *source, "-i", "pipe:0", "-f", "s16le", "-ac", "1", "-ar", "24000", "pipe:1"],
                         input=data, capture_output=True, check=False)
    if out.returncode != 0 or not out.stdout:
        raise RuntimeError(f"ffmpeg cannot decode {fmt}: {out.stderr.decode(errors='replace')[:300]}")
    codec = "pcm_s16le"
    if fmt != "pcm":
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", "pipe:0"],
                               input=data, capture_output=True, check=False)
        codec = probe.stdout.decode().strip().splitlines()[0] if probe.stdout.strip() else "?"
    return len(out.stdout) / 2 / 24000, codec


def run(name, results, call):
    try:
        results[name] = {"status": 200, **(call() or {})}
    except openai.APIStatusError as e:
        body = e.body if isinstance(e.body, dict) else {}
        results[name] = {"status": e.status_code, "error": f"{type(e).__name__}: {e.message}",
                         "code": (body.get("code") if "code" in body else (body.get("error") or {}).get("code"))}
    except Exception as e:  # noqa: BLE001 - every failure is reported, the test judges it
        results[name] = {"status": None, "error": f"{type(e).__name__}: {e}"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--api-key", required=True)
    args = ap.parse_args()
    client = OpenAI(base_url=args.base_url, api_key=args.api_key, max_retries=0, timeout=120)
    speech = client.audio.speech
    results = {}

    def audio(data, fmt, **extra):
        seconds, codec = decode(data, fmt)
        return {"seconds": seconds, "codec": codec, "bytes": len(data), **extra}

    # 1. The docs' first example: defaults (mp3), an OpenAI voice and model.
    run("default", results, lambda: audio(speech.create(model="tts-1", voice="alloy", input=THREE).content, "mp3"))
    # 2. Every response format, the same still audio; the reference is a whole wav file.
    run("reference", results, lambda: audio(speech.create(model="tts-1", voice="alloy", input=THREE, response_format="wav",
                                                          extra_body={**STILL, "stream": False}).content, "wav"))
    for fmt in ["mp3", "opus", "aac", "flac", "wav", "pcm"]:
        run(f"format_{fmt}", results, lambda fmt=fmt: audio(
            speech.create(model="gpt-4o-mini-tts", voice="alloy", input=THREE, response_format=fmt, extra_body=STILL).content, fmt))

    # 3. with_streaming_response, as the docs stream to a file: time to first byte vs the whole.
    def streamed(fmt):
        started = time.monotonic()
        first, chunks = None, []
        with speech.with_streaming_response.create(model="tts-1", voice="nova", input=FIVE, response_format=fmt) as response:
            for chunk in response.iter_bytes():
                if chunk and first is None:
                    first = time.monotonic() - started
                chunks.append(chunk)
            headers = dict(response.headers)
        total = time.monotonic() - started
        return audio(b"".join(chunks), fmt, ttfb=first, total=total, chunked=headers.get("transfer-encoding") == "chunked")
    for fmt in ["mp3", "wav", "pcm"]:
        run(f"stream_{fmt}", results, lambda fmt=fmt: streamed(fmt))

    # 4. Server-sent events: deltas of base64 audio, then done with usage.
    def sse(fmt):
        started = time.monotonic()
        deltas, done, data, first = 0, None, b"", None
        with speech.with_streaming_response.create(model="gpt-4o-mini-tts", voice="coral", input=FIVE, response_format=fmt,
                                                   stream_format="sse") as response:
            content_type = response.headers.get("content-type")
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                event = json.loads(line[6:])
                if event["type"] == "speech.audio.delta":
                    deltas += 1
                    data += base64.b64decode(event["audio"])
                    first = first or time.monotonic() - started
                elif event["type"] == "speech.audio.done":
                    done = event
        return audio(data, fmt, deltas=deltas, usage=(done or {}).get("usage"), content_type=content_type, ttfb=first,
                     total=time.monotonic() - started)
    run("sse_pcm", results, lambda: sse("pcm"))
    run("sse_mp3", results, lambda: sse("mp3"))

    # 5. Voices: a custom voice object, and every one of OpenAI's names.
    run("voice_object", results, lambda: audio(speech.create(model="tts-1", voice={"id": "en_US-joe-medium"}, input="Hello.",
                                                             response_format="wav").content, "wav"))
    for voice in ["alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse", "marin", "cedar"]:
        def named(voice=voice):
            raw = speech.with_raw_response.create(model="tts-1", voice=voice, input="Hi.", response_format="wav")
            return {"voice": raw.headers.get("x-vox-voice"), **audio(raw.content, "wav")}
        run(f"voice_{voice}", results, named)

    # 6. Models, instructions, speed.
    for model in ["tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-12-15"]:
        run(f"model_{model}", results, lambda model=model: audio(
            speech.create(model=model, voice="echo", input="Hello.", response_format="wav").content, "wav"))

    def instructions():
        raw = speech.with_raw_response.create(model="gpt-4o-mini-tts", voice="sage", input="Hello.", response_format="wav",
                                              instructions="Speak in a cheerful tone.")
        return {"ignored": raw.headers.get("x-vox-ignored"), **audio(raw.content, "wav")}
    run("instructions", results, instructions)
    for speed in [0.5, 2, 4]:
        run(f"speed_{speed}", results, lambda speed=speed: audio(
            speech.create(model="tts-1", voice="alloy", input=THREE, response_format="wav", speed=speed, extra_body=STILL).content, "wav"))
    run("model_engine_mismatch", results, lambda: audio(
        speech.create(model="chatterbox", voice="en_US-joe-medium", input="Hello.", response_format="wav").content, "wav"))
    run("models_retrieve", results, lambda: {"id": client.models.retrieve("tts-1").id})
    run("models_list", results, lambda: {"ids": [m.id for m in client.models.list()]})

    # 7. OpenAI's custom voices: create from a sample, list, speak (no cloning engine here), delete.
    sample = {}
    run("sample", results, lambda: sample.update(data=speech.create(model="tts-1", voice="alloy", input=FIVE, response_format="wav",
                                                                   extra_body={"stream": False}).content))

    def create():
        voice = client.audio.voices.create(name="sdk-voice", audio_sample=("me.wav", sample["data"], "audio/wav"), consent="cons_test")
        return {"id": voice.id, "name": voice.name, "object": voice.object, "type": voice.type}
    run("voices_create", results, create)
    run("voices_list", results, lambda: {"voices": client.get("/audio/voices", cast_to=object)["voices"]})
    run("speak_uploaded", results, lambda: audio(speech.create(model="tts-1", voice={"id": "sdk-voice"}, input="Hi.").content, "mp3"))
    run("voices_delete", results, lambda: (lambda d: {"id": d.id, "deleted": d.deleted, "object": d.object})(client.audio.voices.delete("sdk-voice")))

    # 8. Limits, another base URL, the async client, a wrong key.
    run("too_large", results, lambda: audio(speech.create(model="tts-1", voice="alloy", input="word " * 40000).content, "mp3"))
    bare = OpenAI(base_url=args.base_url.removesuffix("/v1"), api_key=args.api_key, max_retries=0, timeout=120)
    run("no_v1_prefix", results, lambda: audio(bare.audio.speech.create(model="tts-1", voice="alloy", input="Hello.").content, "mp3"))

    async def async_stream():
        async with AsyncOpenAI(base_url=args.base_url, api_key=args.api_key, max_retries=0) as aclient:
            async with aclient.audio.speech.with_streaming_response.create(model="tts-1", voice="onyx", input=THREE,
                                                                          response_format="opus") as response:
                data = b"".join([chunk async for chunk in response.iter_bytes()])
        return audio(data, "opus")
    run("async_stream", results, lambda: asyncio.run(async_stream()))
    wrong = OpenAI(base_url=args.base_url, api_key="not-the-key", max_retries=0)
    run("wrong_key", results, lambda: audio(wrong.audio.speech.create(model="tts-1", voice="alloy", input="Hello.").content, "mp3"))

    json.dump(results, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
