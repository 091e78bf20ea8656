# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""What the synthetic scenes are drawn from: closed-form motions, shape outlines, colours and textures.

Every function takes the scene's ``numpy.random.Generator`` and draws from it in a fixed order, so a
scene seed gives the same pictures forever; ``sam2_core.synthetic`` plans and renders the scenes.
"""

from __future__ import annotations

import colorsys
import math

import cv2
import numpy as np

SHAPES = ("ellipse", "polygon", "star", "rounded_rect", "blob")
TEXTURES = ("stripes", "checker", "dots", "noise", "gradient")


class Bounce:
    """Constant velocity reflected off the walls of ``[lo, hi]`` per axis, closed form for any t."""

    def __init__(self, start: np.ndarray, velocity: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        self.start, self.velocity, self.lo, self.span = start, velocity, lo, np.maximum(hi - lo, 0.0)

    def __call__(self, t: float) -> tuple[float, float]:
        out = []
        for a in range(2):
            span = self.span[a]
            if span <= 0:
                out.append(float(self.lo[a]))
                continue
            u = (self.start[a] - self.lo[a] + self.velocity[a] * t) % (2 * span)
            out.append(float(self.lo[a] + (u if u <= span else 2 * span - u)))
        return out[0], out[1]


class Wander:
    """Sum of two sinusoids per axis around a centre: smooth, bounded, closed form for any t."""

    def __init__(self, centre: np.ndarray, amp: np.ndarray, freq: np.ndarray, phase: np.ndarray) -> None:
        self.centre, self.amp, self.freq, self.phase = centre, amp, freq, phase  # amp etc.: 2 x 2

    def __call__(self, t: float) -> tuple[float, float]:
        p = self.centre + (self.amp * np.sin(self.freq * t + self.phase)).sum(axis=1)
        return float(p[0]), float(p[1])


class Keyframes:
    """Piecewise-linear path through keyframes over ``[0, period]``, replayed back and forth after."""

    def __init__(self, times: list[float], points: list[tuple[float, float]], period: float) -> None:
        self.times = np.asarray(times, dtype=np.float64)
        self.points = np.asarray(points, dtype=np.float64)
        self.period = period

    def __call__(self, t: float) -> tuple[float, float]:
        if self.period > 0:
            t = t % (2 * self.period)
            t = 2 * self.period - t if t > self.period else t
        x = np.interp(t, self.times, self.points[:, 0])
        y = np.interp(t, self.times, self.points[:, 1])
        return float(x), float(y)


def unit_contour(kind: str, rng: np.random.Generator) -> np.ndarray:
    """Outline of a shape centred on the origin, scaled so its farthest point is at distance 1: N x 2."""
    if kind == "ellipse":
        a = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        pts = np.stack([np.cos(a), rng.uniform(0.45, 1.0) * np.sin(a)], axis=1)
    elif kind == "polygon":
        n = int(rng.integers(3, 8))
        a = (np.arange(n) + rng.uniform(-0.3, 0.3, n)) * 2 * np.pi / n
        r = rng.uniform(0.75, 1.0, n)
        pts = np.stack([r * np.cos(a), r * np.sin(a)], axis=1)
    elif kind == "star":
        n = int(rng.integers(4, 8))
        a = np.arange(2 * n) * np.pi / n
        r = np.where(np.arange(2 * n) % 2 == 0, 1.0, rng.uniform(0.4, 0.6))
        pts = np.stack([r * np.cos(a), r * np.sin(a)], axis=1)
    elif kind == "rounded_rect":
        hw, hh = 1.0, rng.uniform(0.45, 1.0)
        c = rng.uniform(0.15, 0.5) * hh
        arc = np.linspace(0, np.pi / 2, 8)
        parts = []
        for q, (sx, sy) in enumerate(((1, 1), (-1, 1), (-1, -1), (1, -1))):
            a = arc + q * np.pi / 2
            parts.append(np.stack([sx * (hw - c) + c * np.cos(a), sy * (hh - c) + c * np.sin(a)], axis=1))
        pts = np.concatenate(parts)
    elif kind == "blob":
        a = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        r = np.ones_like(a)
        for k in (2, 3, 4):
            r += rng.uniform(0.0, 0.18) * np.cos(k * a + rng.uniform(0, 2 * np.pi))
        pts = np.stack([r * np.cos(a), r * np.sin(a)], axis=1)
    else:
        raise ValueError(f"unknown shape {kind!r}")
    return pts / np.linalg.norm(pts, axis=1).max()


def inradius(contour: np.ndarray) -> float:
    """Smallest distance from the origin to the closed outline (sampled densely along each edge)."""
    nxt = np.roll(contour, -1, axis=0)
    s = np.linspace(0, 1, 9)[:, None, None]
    dense = contour[None] * (1 - s) + nxt[None] * s
    return float(np.linalg.norm(dense, axis=-1).min())


def hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v), dtype=np.float32) * 255.0


def smooth_noise(rng: np.random.Generator, height: int, width: int, cell: float) -> np.ndarray:
    """H x W float32 in [0, 1]: random values on a coarse grid, upsampled bicubically (cheap value noise)."""
    gh, gw = max(2, int(height / cell) + 2), max(2, int(width / cell) + 2)
    grid = rng.random((gh, gw), dtype=np.float32)
    return np.clip(cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def pattern(rng: np.random.Generator, kind: str, height: int, width: int, scale: float) -> np.ndarray:
    """H x W float32 weight field in [0, 1] for stripes, checker, dots, noise or gradient textures."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    ang = rng.uniform(0, np.pi)
    proj = xx * math.cos(ang) + yy * math.sin(ang)
    if kind == "stripes":
        return 0.5 + 0.5 * np.sin(proj * (2 * np.pi / (scale * rng.uniform(0.5, 1.2))))
    if kind == "checker":
        cell = max(2.0, scale * rng.uniform(0.3, 0.7))
        other = -xx * math.sin(ang) + yy * math.cos(ang)
        return ((np.floor(proj / cell) + np.floor(other / cell)) % 2).astype(np.float32)
    if kind == "dots":
        img = np.zeros((height, width), np.float32)
        n = max(3, int(height * width / (scale * scale) * 1.5))
        for _ in range(n):
            c = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            cv2.circle(img, c, max(1, int(scale * rng.uniform(0.1, 0.3))), 1.0, -1, cv2.LINE_AA)
        return img
    if kind == "noise":
        return smooth_noise(rng, height, width, max(2.0, scale * 0.5))
    if kind == "gradient":
        return (proj - proj.min()) / max(float(np.ptp(proj)), 1e-6)
    raise ValueError(f"unknown texture {kind!r}")


def background_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """H x W x 3 uint8 textured background: smooth noise, a gradient, stripes or blurred blobs."""
    kind = rng.choice(["noise", "gradient", "stripes", "blobs"])
    c1 = hsv(rng.random(), rng.uniform(0.1, 0.6), rng.uniform(0.2, 0.9))
    c2 = hsv(rng.random(), rng.uniform(0.1, 0.6), rng.uniform(0.2, 0.9))
    side = min(height, width)
    if kind == "blobs":
        w = pattern(rng, "gradient", height, width, side)
    else:
        w = pattern(rng, "noise" if kind == "noise" else kind, height, width, side * rng.uniform(0.1, 0.4))
    img = c1 + (c2 - c1) * w[..., None]
    if kind == "blobs":
        for _ in range(int(rng.integers(8, 30))):
            centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            axes = (int(side * rng.uniform(0.02, 0.15)) + 1, int(side * rng.uniform(0.02, 0.15)) + 1)
            colour = hsv(rng.random(), rng.uniform(0.1, 0.6), rng.uniform(0.2, 0.9)).tolist()
            cv2.ellipse(img, centre, axes, rng.uniform(0, 180), 0, 360, colour, -1, cv2.LINE_AA)
        img = cv2.GaussianBlur(img, (0, 0), side * 0.01 + 0.5)
    # fine-grained shading so flat regions still carry texture for the image encoder
    img *= (0.85 + 0.3 * smooth_noise(rng, height, width, max(4.0, side / 40)))[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)


def object_texture(rng: np.random.Generator, kind: str, colour: np.ndarray, size: int) -> np.ndarray:
    """size x size x 3 uint8 patch: the base colour modulated by a pattern and a darker companion hue."""
    h, s, v = colorsys.rgb_to_hsv(*(colour / 255.0))
    other = hsv(h + rng.uniform(-0.08, 0.08), s, v * rng.uniform(0.35, 0.65))
    w = pattern(rng, kind, size, size, max(4.0, size / rng.uniform(2.0, 5.0)))
    img = colour + (other - colour) * (0.6 * w)[..., None]
    return np.clip(img, 0, 255).astype(np.uint8)
