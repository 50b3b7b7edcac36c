#!/usr/bin/env python3
"""Lists the GPU code a CUDA library carries, for VoxServe's planner (ONNXRuntimeGPUBuild).

Runs NVIDIA's cuobjdump (PyPI nvidia-cuda-cuobjdump, pinned in setup-gpu.sh) with --list-elf and
--list-ptx over the library and writes one line per architecture:

    # cuobjdump 13.4 over libonnxruntime_providers_cuda.so: name kind images
    sm_75 cubin 217
    sm_90a cubin 600
    compute_90 ptx 12

`sm_*` is machine code (a cubin), `compute_*` is PTX the driver can compile for newer GPUs. The
planner reads the names (ONNXRuntimeGPUBuild.parseArchitectures) and applies CUDA's compatibility
rules; a GPU none of them runs on gets a CPU plan that says so. With --from-listing, the cuobjdump
output is read from a file instead (tests).
"""
import argparse
import collections
import re
import subprocess
import sys

NAME = re.compile(r"\.(sm|compute)_(\d+[af]?)\.(cubin|ptx)\s*$")


def parse(listing):
    counts = collections.OrderedDict()
    for line in listing.splitlines():
        line = line.strip()
        if not (line.startswith("ELF file") or line.startswith("PTX file")):
            continue
        m = NAME.search(line)
        if not m:
            continue
        kind = "ptx" if line.startswith("PTX") else "cubin"
        name = ("compute_" if kind == "ptx" else "sm_") + m.group(2)
        counts[(name, kind)] = counts.get((name, kind), 0) + 1
    return counts


def sort_key(item):
    (name, kind), _ = item
    digits = re.search(r"(\d+)", name).group(1)
    return (kind != "cubin", int(digits), name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("library")
    ap.add_argument("--cuobjdump", default="cuobjdump")
    ap.add_argument("--from-listing", help="read cuobjdump's output from this file instead of running it")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.from_listing:
        listing = open(args.from_listing, encoding="utf-8", errors="replace").read()
    else:
        run = subprocess.run([args.cuobjdump, "--list-elf", "--list-ptx", args.library], capture_output=True, text=True)
        listing = run.stdout + run.stderr
        if run.returncode != 0:
            sys.exit(f"cuda-architectures: cuobjdump failed ({run.returncode}): {listing[-500:]}")
    counts = parse(listing)
    if not counts:
        sys.exit(f"cuda-architectures: no GPU code found in {args.library}")
    lines = [f"# cuobjdump --list-elf --list-ptx over {args.library.rsplit('/', 1)[-1]}: name kind images"]
    lines += [f"{name} {kind} {n}" for (name, kind), n in sorted(counts.items(), key=sort_key)]
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(" ".join(name for (name, _), _ in sorted(counts.items(), key=sort_key)))


if __name__ == "__main__":
    main()
