#!/usr/bin/env python3
"""pairs.py — whole-process runs of several commands, interleaved round by
round, timed and compared.

Usage: pairs.py --rounds N --frames F [--baseline NAME] NAME=COMMAND ...

Each round runs every command once, in the order given (a different rotation
each round, so no command always runs first after a pause), with stdin from
/dev/null and its output discarded unless it exits non-zero. Per run: wall
time (perf_counter around fork and wait) and CPU time (user + system of the
child and everything it waited for, from getrusage(RUSAGE_CHILDREN)). Prints a
Markdown table: min, median and max of wall time and of CPU ns per frame, and
the ratio of each median to the baseline's (the first command by default).

A command whose text contains {round} gets the round number, so a command
can write to a fresh file each round. Commands run through /bin/sh.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=11)
    p.add_argument("--frames", type=int, required=True, help="frames each run handles, for ns per frame")
    p.add_argument("--baseline")
    p.add_argument("--title", default="")
    p.add_argument("commands", nargs="+")
    a = p.parse_args()
    named = []
    for c in a.commands:
        name, _, command = c.partition("=")
        named.append((name, command))
    baseline = a.baseline or named[0][0]
    wall = {n: [] for n, _ in named}
    cpu = {n: [] for n, _ in named}
    for r in range(a.rounds):
        order = named[r % len(named):] + named[:r % len(named)]
        for name, command in order:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            proc = subprocess.run(command.replace("{round}", str(r)), shell=True, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            t1 = time.perf_counter()
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if proc.returncode != 0:
                sys.stderr.write(f"{name} (round {r}) exited {proc.returncode}:\n{proc.stderr.decode()[-2000:]}\n")
                sys.exit(1)
            wall[name].append(t1 - t0)
            cpu[name].append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    if a.title:
        print(f"#### {a.title}\n")
    print(f"{a.rounds} interleaved rounds, {a.frames:,} frames per run; CPU = user + system of the whole process.\n")
    print("| command | wall min | wall median | wall max | max / median | CPU ns/frame min | median | max "
          "| wall vs " + baseline + " | CPU vs " + baseline + " |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    bw = statistics.median(wall[baseline])
    bc = statistics.median(cpu[baseline])
    for name, _ in named:
        w, c = wall[name], cpu[name]
        per = [x / a.frames * 1e9 for x in c]
        mw = statistics.median(w)
        print(f"| {name} | {min(w):.3f} s | {mw:.3f} s | {max(w):.3f} s | {max(w) / mw:.2f} "
              f"| {min(per):.1f} | {statistics.median(per):.1f} | {max(per):.1f} "
              f"| {mw / bw:.2f}× | {statistics.median(c) / bc:.2f}× |")
    print()
    print("Commands:\n")
    print("```")
    for name, command in named:
        print(f"{name}: {command}")
    print("```")


if __name__ == "__main__":
    main()
