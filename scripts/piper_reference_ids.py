#!/usr/bin/env python3
"""Phoneme ids as Python piper-tts makes them, for VoxServe's parity test.

Usage: piper_reference_ids.py MODEL.onnx < texts.json  (a JSON list of strings)
Prints a JSON object: text -> list of sentences, each {"phonemes": str, "ids": [int]}.
"""
import json
import sys

from piper import PiperVoice


def main():
    voice = PiperVoice.load(sys.argv[1])
    texts = json.load(sys.stdin)
    out = {}
    for text in texts:
        out[text] = [
            {"phonemes": "".join(sentence), "ids": voice.phonemes_to_ids(sentence)}
            for sentence in voice.phonemize(text)
        ]
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
