#!/usr/bin/env python3
"""Draws resources/icon.png (256x256, RGBA): lanshare's app icon.

A rounded blue square (the seed's #1a73e8) with two white arrows, up and down: files going to
and from the host. Standard library only, so anyone can regenerate it: python3 make_icon.py
"""
import math
import os
import struct
import zlib

SIZE = 256
BLUE = (0x1A, 0x73, 0xE8)
DARK = (0x20, 0x21, 0x24)


def coverage(inside, x, y, samples=4):
    """Fraction of the pixel (x, y) for which inside(px, py) holds (anti-aliasing)."""
    hits = 0
    for i in range(samples):
        for j in range(samples):
            if inside(x + (i + 0.5) / samples, y + (j + 0.5) / samples):
                hits += 1
    return hits / (samples * samples)


def rounded_square(px, py, margin=12, radius=56):
    lo, hi = margin, SIZE - margin
    cx = min(max(px, lo + radius), hi - radius)
    cy = min(max(py, lo + radius), hi - radius)
    return lo <= px <= hi and lo <= py <= hi and math.hypot(px - cx, py - cy) <= radius


def arrow(px, py, x, top, bottom, pointing_up):
    """A vertical arrow with its shaft between top and bottom, centred on x."""
    shaft_half, head_half, head_len = 11, 38, 44
    if pointing_up:
        tip, head_base = top, top + head_len
        in_head = tip <= py <= head_base and abs(px - x) <= head_half * (py - tip) / head_len
        in_shaft = head_base <= py <= bottom and abs(px - x) <= shaft_half
    else:
        tip, head_base = bottom, bottom - head_len
        in_head = head_base <= py <= tip and abs(px - x) <= head_half * (tip - py) / head_len
        in_shaft = top <= py <= head_base and abs(px - x) <= shaft_half
    return in_head or in_shaft


def white(px, py):
    return arrow(px, py, 96, 58, 198, True) or arrow(px, py, 160, 58, 198, False)


def pixel(x, y):
    square = coverage(rounded_square, x, y)
    if square == 0:
        return (0, 0, 0, 0)
    mark = coverage(white, x, y)
    # A soft darker edge makes the square read on light and dark panels alike.
    edge = 1.0 - coverage(lambda px, py: rounded_square(px, py, margin=18, radius=50), x, y)
    base = [b * (1 - 0.35 * edge) + d * 0.35 * edge for b, d in zip(BLUE, DARK)]
    rgb = [round(c * (1 - mark) + 255 * mark) for c in base]
    return (*rgb, round(255 * square))


def write_png(path, rows):
    raw = b"".join(b"\x00" + bytes(v for p in row for v in p) for row in rows)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", SIZE, SIZE, 8, 6, 0, 0, 0)
    with open(path, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                  + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


if __name__ == "__main__":
    rows = [[pixel(x, y) for x in range(SIZE)] for y in range(SIZE)]
    write_png(os.path.join(os.path.dirname(os.path.abspath(__file__)), "icon.png"), rows)
