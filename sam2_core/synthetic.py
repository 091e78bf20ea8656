# Copyright 2026 The sam2_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Seeded synthetic videos of textured moving shapes with exact per-object masks and scripted events."""

from __future__ import annotations

import colorsys
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from . import synthetic_assets as assets
from .synthetic_assets import SHAPES, TEXTURES
from .synthetic_depth import SceneDepth, SurfacePoints3D, surface_points

SCENARIOS = ("random", "occlusion", "crossing", "exit_reenter", "distractor")
BAND_LABEL = -1  # label of the foreground occluder band; distractor i is labelled -2 - i
_PLAN_ATTEMPTS = 20
_NOISE_PAD = 16
_MARGIN = 1.5  # pixels: rasterized polygons reach at most ~1 px beyond the exact outline


@dataclass(frozen=True)
class SceneConfig:
    """What a synthetic scene contains. Sizes and speeds are fractions of ``min(height, width)``.

    Scenarios: ``random`` (free motion; scripted events only with the ``p_*`` probabilities),
    ``occlusion`` (a target passes fully behind a foreground band for >= hidden_frames), ``exit_reenter``
    (a target leaves through a border and comes back elsewhere), ``crossing`` (three targets cross
    mid-clip) and ``distractor`` (look-alike untracked shapes, one brushing past its target).
    """

    height: int = 480
    width: int = 640
    num_frames: int = 48  # clip length; scripted events are planned inside it
    scenario: str = "random"  # one of SCENARIOS
    num_objects: tuple[int, int] = (1, 5)  # inclusive range of tracked objects
    object_size: tuple[float, float] = (0.12, 0.3)  # bounding-circle diameter
    speed: tuple[float, float] = (0.004, 0.02)  # per frame
    rotation_speed: tuple[float, float] = (0.0, 4.0)  # |degrees per frame|, sign is random
    scale_amplitude: tuple[float, float] = (0.0, 0.2)  # relative size oscillation
    # "random" scenario only: probability that each scripted event is added to the scene
    p_occlusion: float = 0.0
    p_exit_reenter: float = 0.0
    p_distractor: float = 0.0
    num_distractors: tuple[int, int] = (1, 2)  # inclusive range when distractors are present
    hidden_frames: int = 12  # minimum length of a full occlusion / out-of-frame interval
    noise_std: float = 2.0  # additive Gaussian pixel noise (0 disables it)
    textured_objects: bool = True  # False draws each object in one flat colour
    min_visible_pixels: int = 16  # an object is "visible" with at least this many mask pixels

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.scenario!r}; expected one of {SCENARIOS}")
        if self.height < 16 or self.width < 16:
            raise ValueError("frames must be at least 16 x 16")
        lo, hi = self.num_objects
        if not 1 <= lo <= hi <= 100:
            raise ValueError("num_objects must be an inclusive range within 1..100")
        if self.hidden_frames < 1:
            raise ValueError("hidden_frames must be positive")
        scripted = self.scenario != "random" or max(self.p_occlusion, self.p_exit_reenter, self.p_distractor)
        if self.num_frames < 1 or (scripted and self.num_frames < self.hidden_frames + 12):
            raise ValueError("num_frames must be >= hidden_frames + 12 for scripted events")


@dataclass(frozen=True)
class ObjectInfo:
    """Metadata of one drawn object (a tracked target or an untracked distractor)."""

    obj_id: int  # 1..K for targets, 0 for distractors
    shape: str  # one of SHAPES
    texture: str  # one of TEXTURES, or "flat"
    color: tuple[int, int, int]  # base RGB colour
    radius: float  # bounding-circle radius in pixels at scale 1
    depth: int  # drawing order: higher is nearer the camera
    role: str  # "free", "occluded", "exit_reenter", "crossing" or "distractor"
    mimics: int = 0  # for distractors: the obj_id whose shape and colour family it copies


@dataclass(frozen=True)
class Event:
    """A scripted event over frames ``[start, stop)``.

    - ``occlusion``: the target is fully hidden behind the occluder band.
    - ``exit_reenter``: the target is fully outside the frame (it is partly in view just before and
      comes back after).
    - ``crossing``: the bounding circles of the three objects overlap pairwise.
    - ``distractor``: a look-alike distractor's bounding circle overlaps the target's.

    Ranges are conservative (derived from geometry); ``visible`` flags give the exact per-frame state.
    Streams longer than ``num_frames`` replay scripted motion backwards and forwards, so the events
    recur mirrored; only the first ``num_frames`` are listed.
    """

    kind: str
    obj_ids: tuple[int, ...]
    start: int
    stop: int


@dataclass
class Clip:
    """A rendered clip with its ground truth."""

    frames: np.ndarray  # T x H x W x 3 uint8 RGB
    masks: np.ndarray  # T x K x H x W bool, visible part of each target only
    visible: np.ndarray  # T x K bool, mask area >= min_visible_pixels
    obj_ids: np.ndarray  # K int64, 1..K
    objects: list[ObjectInfo]
    distractors: list[ObjectInfo]
    events: list[Event]
    seed: int
    config: SceneConfig

    def events_of(self, kind: str) -> list[Event]:
        """The events of one kind."""
        return [e for e in self.events if e.kind == kind]

    def label_maps(self) -> np.ndarray:
        """``T x H x W`` uint8: 0 background, k where target k is visible (DAVIS annotation style)."""
        ids = self.obj_ids.astype(np.uint8)[None, :, None, None]
        return (self.masks * ids).max(axis=1).astype(np.uint8)


@dataclass
class _Layer:
    """One drawable shape; ``motion(t)`` gives its centre (x, y) in pixels."""

    info: ObjectInfo
    label: int
    contour: np.ndarray  # N x 2 float64, unit bounding radius
    inradius: float  # smallest distance from the centre to the outline, in contour units
    texture: np.ndarray | None  # S x S x 3 uint8 patch centred on the object, None = flat colour
    motion: Callable[[float], tuple[float, float]] = field(repr=False)
    theta0: float = 0.0
    omega: float = 0.0  # radians per frame
    scale_amp: float = 0.0
    scale_freq: float = 0.0  # radians per frame
    scale_phase: float = 0.0

    def scale(self, t: float) -> float:
        return 1.0 + self.scale_amp * math.sin(self.scale_freq * t + self.scale_phase)

    @property
    def max_radius(self) -> float:
        return self.info.radius * (1.0 + self.scale_amp)


class SyntheticScene:
    """A deterministic scene: ``frame(t)`` renders any frame index without rendering the ones before it.

    Planning (shapes, colours, trajectories, events) happens once in the constructor from ``seed``; each
    frame is then a pure function of ``t``. Attributes: ``objects`` (targets, by obj_id), ``distractors``,
    ``events``, ``obj_ids`` (K,), ``background`` (H x W x 3 uint8). ``depth(t)`` is the frame's exact
    depth image (sam2_core.synthetic_depth), drawn from a random stream of its own.
    """

    def __init__(self, seed: int, config: SceneConfig | None = None) -> None:
        if seed < 0:
            raise ValueError("seed must be non-negative")
        self.seed = int(seed)
        self.config = config if config is not None else SceneConfig()
        cfg = self.config
        self.height, self.width = cfg.height, cfg.width
        self._side = min(cfg.height, cfg.width)
        rng = np.random.default_rng(self.seed)
        self.background = assets.background_image(rng, cfg.height, cfg.width)
        self._noise: tuple[np.ndarray, np.ndarray] | None = None
        self._depth: SceneDepth | None = None  # planned on first use (its own random stream)
        if cfg.noise_std > 0:
            # a padded noise field sampled once; each frame takes a seeded shifted window of it, which is
            # far cheaper than drawing fresh Gaussian noise per frame at 480 x 640
            shape = (cfg.height + _NOISE_PAD, cfg.width + _NOISE_PAD, 3)
            n = np.rint(rng.normal(0.0, cfg.noise_std, shape)).clip(-255, 255)
            self._noise = (n.clip(0, None).astype(np.uint8), (-n).clip(0, None).astype(np.uint8))
        # re-plan until every target is visible on frame 0, where a tracker gets its prompt
        for _ in range(_PLAN_ATTEMPTS):
            self._plan(rng)
            _, counts = self._label_and_counts(0)
            if (counts >= cfg.min_visible_pixels).all():
                break

    # ----------------------------------------------------------------------------------------- planning
    def _random_layer(
        self,
        rng: np.random.Generator,
        obj_id: int,
        label: int,
        hue: float,
        shape: str | None = None,
        radius: float | None = None,
        texture: str | None = None,
        role: str = "free",
        mimics: int = 0,
    ) -> _Layer:
        cfg = self.config
        shape = shape or str(rng.choice(SHAPES))
        contour = assets.unit_contour(shape, rng)
        if radius is None:
            radius = 0.5 * rng.uniform(*cfg.object_size) * self._side
        radius = max(float(radius), 3.0)
        colour = assets.hsv(hue, rng.uniform(0.55, 1.0), rng.uniform(0.6, 1.0))
        if cfg.textured_objects:
            texture = texture or str(rng.choice(TEXTURES))
            # sized for the largest radius the config allows: scripted roles may enlarge the shape later
            reach = max(radius, 0.5 * cfg.object_size[1] * self._side) * (1 + cfg.scale_amplitude[1])
            tex = assets.object_texture(rng, texture, colour, 2 * math.ceil(reach) + 5)
        else:
            texture, tex = "flat", None
        info = ObjectInfo(
            obj_id=obj_id,
            shape=shape,
            texture=texture,
            color=tuple(int(c) for c in np.rint(colour)),
            radius=radius,
            depth=0,
            role=role,
            mimics=mimics,
        )
        omega = math.radians(rng.uniform(*cfg.rotation_speed)) * rng.choice([-1.0, 1.0])
        return _Layer(
            info=info,
            label=label,
            contour=contour,
            inradius=assets.inradius(contour),
            texture=tex,
            motion=lambda t: (0.0, 0.0),
            theta0=rng.uniform(0, 2 * np.pi),
            omega=omega,
            scale_amp=rng.uniform(*cfg.scale_amplitude),
            scale_freq=2 * np.pi / rng.uniform(30.0, 90.0),
            scale_phase=rng.uniform(0, 2 * np.pi),
        )

    def _free_motion(self, rng: np.random.Generator, layer: _Layer) -> None:
        """Bouncing off the borders or wandering, always fully inside the frame."""
        r = layer.max_radius + _MARGIN
        lo = np.array([r, r])
        hi = np.array([self.width - 1 - r, self.height - 1 - r])
        speed = rng.uniform(*self.config.speed) * self._side
        if rng.random() < 0.5:
            ang = rng.uniform(0, 2 * np.pi)
            start = lo + rng.random(2) * np.maximum(hi - lo, 0)
            layer.motion = assets.Bounce(start, speed * np.array([math.cos(ang), math.sin(ang)]), lo, hi)
        else:
            half = np.maximum(hi - lo, 0) / 2
            split = rng.uniform(0.4, 0.8, 2)
            amp = half[:, None] * np.stack([split, 1 - split], axis=1) * rng.uniform(0.6, 1.0)
            f1 = speed / max(float(half.max()), 1.0) * rng.uniform(0.6, 1.0)
            freq = np.stack([np.full(2, f1), f1 * rng.uniform(1.3, 2.1, 2)], axis=1)
            layer.motion = assets.Wander((lo + hi) / 2, amp, freq, rng.uniform(0, 2 * np.pi, (2, 2)))

    def _set_radius(self, layer: _Layer, max_radius: float) -> None:
        """Shrink a scripted object so its largest extent (with scale oscillation) is ``max_radius``."""
        radius = min(layer.info.radius, max_radius / (1.0 + layer.scale_amp))
        layer.info = replace(layer.info, radius=radius)

    def _plan_occlusion(self, rng: np.random.Generator, layer: _Layer) -> tuple[int, int, int]:
        """Move the target behind a band that hides it completely for hidden_frames.

        The target slows down while it is fully hidden (nobody sees the change of speed), so the band
        needs to be only a little wider than the target. Returns the band as (axis, first, stop) pixel
        indices along ``axis`` (0: columns, 1: rows).
        """
        cfg = self.config
        axis = 0 if self.width >= self.height else 1
        length, across = (self.width, self.height) if axis == 0 else (self.height, self.width)
        t_mid = (cfg.num_frames - 1) / 2
        half_hidden = cfg.hidden_frames / 2 + 0.5  # frames on each side of t_mid with the target hidden
        q = t_mid - half_hidden  # frames to go from fully beside the band to fully behind it
        # fully visible beside the band on frame 0 needs v*q >= 2r + 2m; fully inside the frame needs
        # v*q + v_hidden*half_hidden <= length/2 - r - m: both hold with 10% to spare when 3.3(r + m) <=
        # length/2 (r: largest radius, m: rasterization margin)
        r_eff = min(layer.max_radius, length / 6.6 - _MARGIN, across / 2 - 2 * _MARGIN)
        if r_eff < 3:
            raise ValueError("frames too small for an occlusion event")
        self._set_radius(layer, r_eff)
        r_eff = layer.max_radius
        v = (2 * r_eff + 2 * _MARGIN) / q * rng.uniform(1.0, 1.1)
        slack = max(length / 2 - r_eff - _MARGIN - v * q, 0.0)
        v_hidden = min(v * rng.uniform(0.1, 0.4), slack / half_hidden)
        hidden_reach = v_hidden * half_hidden
        half_band = r_eff + _MARGIN + hidden_reach
        centre = (length - 1) / 2
        sign = float(rng.choice([-1.0, 1.0]))
        lo, hi = r_eff + 2 * _MARGIN, across - 1 - r_eff - 2 * _MARGIN
        c0 = rng.uniform(lo, hi)
        drift = rng.uniform(-1, 1) * min(c0 - lo, hi - c0) / max(t_mid, 1.0)
        times = [0.0, t_mid - half_hidden, t_mid + half_hidden, cfg.num_frames - 1.0]
        offsets = [-hidden_reach - v * q, -hidden_reach, hidden_reach, hidden_reach + v * q]
        pts = [(centre + sign * d, c0 + drift * (t - t_mid)) for t, d in zip(times, offsets)]
        if axis == 1:
            pts = [(b, a) for a, b in pts]
        layer.motion = assets.Keyframes(times, pts, cfg.num_frames - 1.0)
        return axis, math.floor(centre - half_band), math.ceil(centre + half_band) + 1

    def _plan_exit(self, rng: np.random.Generator, layer: _Layer) -> tuple[int, bool]:
        """V-shaped path: out through one border, fully outside for hidden_frames, back in elsewhere.

        Returns (axis, far) where far is True for the right/bottom border.
        """
        cfg = self.config
        side = int(rng.integers(4))
        axis, far = (0 if side < 2 else 1), side % 2 == 0
        length, across = (self.width, self.height) if axis == 0 else (self.height, self.width)
        t_mid = (cfg.num_frames - 1) / 2
        q = t_mid - cfg.hidden_frames / 2 - 0.5
        # fully inside on frame 0 needs v*q >= 2R(1+a) + 2m + 0.5; for some frame to straddle the border
        # (so that the mask touches it) a step must be shorter than the object's narrowest width,
        # v <= 1.8 (inradius*R(1-a) - 1). Both can hold from a minimum base radius R up.
        a = layer.scale_amp
        coef = 1.8 * layer.inradius * (1 - a) - 2 * (1 + a) / q
        r_need = (1.8 + (2 * _MARGIN + 0.5) / q) / coef if coef > 0 else math.inf
        r_max = min(across / 2 - 3 * _MARGIN, length / 3) / (1 + a)
        if r_need > r_max:
            raise ValueError("frames too small or clip too short for an exit/re-enter event")
        layer.info = replace(layer.info, radius=min(max(layer.info.radius, r_need), r_max))
        r_eff = layer.max_radius
        v_lo = (2 * r_eff + 2 * _MARGIN + 0.5) / q
        v_hi = min((length + 0.5) / q, 1.8 * (layer.inradius * layer.info.radius * (1 - a) - 1))
        v = min(v_lo * rng.uniform(1.0, 1.4), v_hi)
        p_out = length - 1 + r_eff + _MARGIN + 0.5 + v * (cfg.hidden_frames / 2 + 0.5)
        lo, hi = r_eff + 2 * _MARGIN, across - 1 - r_eff - 2 * _MARGIN
        c0 = rng.uniform(lo, hi)
        drift = rng.uniform(-1, 1) * min(c0 - lo, hi - c0) / max(t_mid, 1.0)
        times = [0.0, t_mid, cfg.num_frames - 1.0]
        pts = []
        for t in times:
            along = p_out - v * abs(t - t_mid)
            along = along if far else length - 1 - along
            pt = (along, c0 + drift * (t - t_mid))
            pts.append(pt if axis == 0 else pt[::-1])
        layer.motion = assets.Keyframes(times, pts, cfg.num_frames - 1.0)
        return axis, far

    def _plan_crossing(self, rng: np.random.Generator, layers: list[_Layer]) -> None:
        """Three straight paths at ~120 degrees that meet near the frame centre mid-clip."""
        cfg = self.config
        centre = np.array([self.width - 1, self.height - 1]) / 2 + rng.uniform(-0.05, 0.05, 2) * self._side
        phi0 = rng.uniform(0, 2 * np.pi)
        for i, layer in enumerate(layers):
            ang = phi0 + i * 2 * np.pi / 3 + rng.uniform(-0.25, 0.25)
            u = np.array([math.cos(ang), math.sin(ang)])
            while True:
                r = layer.max_radius + 2 * _MARGIN
                c = centre + rng.uniform(-0.35, 0.35, 2) * layer.max_radius
                room = [
                    min(c[a] - r, self.width - 1 - r - c[a] if a == 0 else self.height - 1 - r - c[a]) for a in range(2)
                ]
                dist = min(room[a] / abs(u[a]) for a in range(2) if abs(u[a]) > 1e-6) * 0.95
                if dist >= 1.2 * layer.max_radius:
                    break
                if layer.max_radius < 4:
                    raise ValueError("frames too small for a crossing event")
                self._set_radius(layer, layer.max_radius * 0.85)
            layer.motion = assets.Keyframes(
                [0.0, cfg.num_frames - 1.0], [tuple(c - u * dist), tuple(c + u * dist)], cfg.num_frames - 1.0
            )

    def _plan(self, rng: np.random.Generator) -> None:
        cfg = self.config
        sc = cfg.scenario
        want_occ = sc == "occlusion" or (sc == "random" and rng.random() < cfg.p_occlusion)
        want_exit = sc == "exit_reenter" or (sc == "random" and rng.random() < cfg.p_exit_reenter)
        want_dis = sc == "distractor" or (sc == "random" and rng.random() < cfg.p_distractor)
        want_cross = sc == "crossing"
        k = int(rng.integers(cfg.num_objects[0], cfg.num_objects[1] + 1))
        k = max(k, 3 * want_cross + want_occ + want_exit)
        hue0 = rng.random()
        hues = [hue0 + (i + rng.uniform(-0.2, 0.2)) / k for i in range(k)]
        targets = [self._random_layer(rng, i + 1, i + 1, hues[i]) for i in range(k)]
        order = [int(i) for i in rng.permutation(k)]
        crossing = [targets[i] for i in order[:3]] if want_cross else []
        rest = order[3:] if want_cross else order
        occluded = targets[rest.pop(0)] if want_occ else None
        exiting = targets[rest.pop(0)] if want_exit else None
        if want_cross:
            # similar sizes, so no one of them can hide another completely for the whole crossing
            base = 0.5 * rng.uniform(*cfg.object_size) * self._side
            for layer in crossing:
                layer.info = replace(layer.info, radius=base * rng.uniform(0.85, 1.15))
            self._plan_crossing(rng, crossing)
        band = self._plan_occlusion(rng, occluded) if occluded else None
        exit_side = None
        if exiting is not None:
            for _ in range(10):  # thin shapes cannot straddle a border reliably: pick a rounder one
                if exiting.inradius >= 0.5:
                    break
                kind = str(rng.choice(SHAPES))
                exiting.contour = assets.unit_contour(kind, rng)
                exiting.inradius = assets.inradius(exiting.contour)
                exiting.info = replace(exiting.info, shape=kind)
            if exiting.inradius < 0.5:
                a = np.linspace(0, 2 * np.pi, 64, endpoint=False)
                exiting.contour, exiting.inradius = np.stack([np.cos(a), np.sin(a)], axis=1), 1.0
                exiting.info = replace(exiting.info, shape="ellipse")
            exiting.scale_amp = min(exiting.scale_amp, 0.1)
            exit_side = self._plan_exit(rng, exiting)
        scripted = {id(x) for x in [*crossing, occluded, exiting] if x is not None}
        free = [x for x in targets if id(x) not in scripted]
        for layer in free:
            self._free_motion(rng, layer)
        roles = [(x, "crossing") for x in crossing] + [(occluded, "occluded"), (exiting, "exit_reenter")]
        for layer, role in roles:
            if layer is not None:
                layer.info = replace(layer.info, role=role)
        # scripted targets draw in front of the free ones so nothing but the script hides them
        stack = free + crossing + [x for x in (exiting, occluded) if x is not None]

        distractors: list[_Layer] = []
        dis_target = None
        if want_dis:
            dis_target = targets[order[-1]] if not free else free[int(rng.integers(len(free)))]
            ti = dis_target.info
            for j in range(int(rng.integers(cfg.num_distractors[0], cfg.num_distractors[1] + 1))):
                hue = colorsys.rgb_to_hsv(*(np.array(ti.color) / 255.0))[0] + rng.uniform(-0.03, 0.03)
                d = self._random_layer(
                    rng,
                    0,
                    -2 - j,
                    hue,
                    shape=ti.shape,
                    radius=ti.radius * rng.uniform(0.8, 1.2),
                    texture=ti.texture if cfg.textured_objects else None,
                    role="distractor",
                    mimics=ti.obj_id,
                )
                self._free_motion(rng, d)
                distractors.append(d)
            # the first distractor is scripted to brush past its target mid-clip: close enough to
            # overlap it, far enough off-centre that neither hides the other completely
            t_c = int(rng.integers(cfg.num_frames // 3, 2 * cfg.num_frames // 3 + 1))
            ang = rng.uniform(0, 2 * np.pi)
            radii = dis_target.max_radius + distractors[0].max_radius
            side = rng.choice([-1.0, 1.0]) * rng.uniform(0.45, 0.8) * radii
            p = np.array(dis_target.motion(t_c)) + side * np.array([-math.sin(ang), math.cos(ang)])
            # fast enough to come from and go to 1.5 radii-sums away, so the pass is a distinct event
            reach = 1.5 * radii / (cfg.num_frames / 3)
            speed = max(1.0, rng.uniform(*cfg.speed) * self._side, reach)
            vel = speed * np.array([math.cos(ang), math.sin(ang)])
            distractors[0].motion = assets.Keyframes(
                [0.0, cfg.num_frames - 1.0],
                [tuple(p - vel * t_c), tuple(p + vel * (cfg.num_frames - 1 - t_c))],
                cfg.num_frames - 1.0,
            )
            for d in distractors:
                stack.insert(int(rng.integers(len(stack) + 1)), d)
        for depth, layer in enumerate(stack):
            layer.info = replace(layer.info, depth=depth)

        self._layers = stack
        self._band = None
        if band is not None:
            axis, first, stop = band
            length = self.width if axis == 0 else self.height
            first, stop = max(first, 0), min(stop, length)
            shape = (self.height, stop - first) if axis == 0 else (stop - first, self.width)
            colour = assets.hsv(rng.random(), rng.uniform(0.0, 0.5), rng.uniform(0.2, 0.7))
            tex = assets.object_texture(rng, str(rng.choice(["stripes", "noise"])), colour, max(shape))
            self._band = (axis, first, stop, np.ascontiguousarray(tex[: shape[0], : shape[1]]))
        self.objects = [x.info for x in targets]
        self.distractors = [x.info for x in distractors]
        self.obj_ids = np.arange(1, k + 1, dtype=np.int64)
        self.events = self._events(
            occluded, exiting, exit_side, crossing, dis_target, distractors[0] if distractors else None
        )

    def _events(
        self,
        occluded: _Layer | None,
        exiting: _Layer | None,
        exit_side: tuple[int, bool] | None,
        crossing: list[_Layer],
        dis_target: _Layer | None,
        distractor: _Layer | None,
    ) -> list[Event]:
        """Frame ranges where each scripted condition holds, checked geometrically on every frame.

        Drawn pixels lie within ``radius * scale + 1`` of the centre, hence the margins below.
        """
        frames = range(self.config.num_frames)

        def run(kind: str, ids: tuple[int, ...], cond: Callable[[int], bool]) -> Event | None:
            hits = [t for t in frames if cond(t)]
            return Event(kind, ids, hits[0], hits[-1] + 1) if hits else None

        events = []
        if occluded is not None:
            axis, first, stop, _ = self._band
            r = occluded.max_radius + _MARGIN

            def hidden(t: int) -> bool:
                p = occluded.motion(t)[axis]
                return p - r >= first - 0.5 and p + r <= stop - 0.5

            events.append(run("occlusion", (occluded.info.obj_id,), hidden))
        if exiting is not None:
            axis, far = exit_side
            length = self.width if axis == 0 else self.height
            r = exiting.max_radius + _MARGIN

            def outside(t: int) -> bool:
                p = exiting.motion(t)[axis]
                return p - r > length - 1.5 if far else p + r < 0.5

            events.append(run("exit_reenter", (exiting.info.obj_id,), outside))
        if crossing:
            ids = tuple(x.info.obj_id for x in crossing)
            pairs = [(crossing[i], crossing[j]) for i, j in ((0, 1), (0, 2), (1, 2))]
            events.append(run("crossing", ids, lambda t: all(_circles_overlap(a, b, t) for a, b in pairs)))
        if dis_target is not None:
            events.append(
                run(
                    "distractor",
                    (dis_target.info.obj_id,),
                    lambda t: _circles_overlap(dis_target, distractor, t),
                )
            )
        return sorted((e for e in events if e is not None), key=lambda e: e.start)

    # ---------------------------------------------------------------------------------------- rendering
    def _draw(self, layer: _Layer, t: int, frame: np.ndarray, label: np.ndarray) -> None:
        """Paint one shape into ``frame`` and ``label`` through the same boolean mask, so they agree."""
        x, y = layer.motion(t)
        th = layer.theta0 + layer.omega * t
        s = layer.scale(t)
        rot = s * np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
        pts = layer.contour @ (rot.T * layer.info.radius) + (x, y)
        x0, y0 = max(math.floor(pts[:, 0].min()) - 1, 0), max(math.floor(pts[:, 1].min()) - 1, 0)
        x1 = min(math.ceil(pts[:, 0].max()) + 2, self.width)
        y1 = min(math.ceil(pts[:, 1].max()) + 2, self.height)
        if x0 >= x1 or y0 >= y1:
            return
        m = np.zeros((y1 - y0, x1 - x0), np.uint8)
        # 4 fractional bits keep sub-pixel motion smooth; hard edges keep the mask exact
        cv2.fillPoly(m, [np.rint((pts - (x0, y0)) * 16).astype(np.int32)], 1, cv2.LINE_8, shift=4)
        m = m.view(bool)
        roi = frame[y0:y1, x0:x1]
        if layer.texture is None:
            roi[m] = layer.info.color
        else:
            # the patch is rotated and scaled with the shape so the texture sticks to the object
            c = (layer.texture.shape[0] - 1) / 2
            affine = np.hstack([rot, (np.array([x - x0, y - y0]) - rot @ (c, c))[:, None]])
            warped = cv2.warpAffine(
                layer.texture,
                affine,
                (x1 - x0, y1 - y0),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REFLECT,
            )
            np.copyto(roi, warped, where=m[..., None])
        label[y0:y1, x0:x1][m] = layer.label

    def render(self, t: int, noise: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Frame ``t`` as (``H x W x 3`` uint8 RGB, ``H x W`` int8 label map).

        Labels: 0 background, k for target obj_id k, BAND_LABEL for the occluder band, -2 - i for
        distractor i.
        """
        if t < 0:
            raise ValueError("frame index must be non-negative")
        frame = self.background.copy()
        label = np.zeros((self.height, self.width), np.int8)
        for layer in self._layers:
            self._draw(layer, t, frame, label)
        if self._band is not None:
            axis, first, stop, tex = self._band
            if axis == 0:
                frame[:, first:stop], label[:, first:stop] = tex, BAND_LABEL
            else:
                frame[first:stop], label[first:stop] = tex, BAND_LABEL
        if noise and self._noise is not None:
            dy, dx = np.random.default_rng((self.seed, t)).integers(0, _NOISE_PAD + 1, 2)
            window = (slice(dy, dy + self.height), slice(dx, dx + self.width))
            cv2.add(frame, self._noise[0][window], dst=frame)
            cv2.subtract(frame, self._noise[1][window], dst=frame)
        return frame, label

    def _label_and_counts(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        _, label = self.render(t, noise=False)
        counts = np.bincount(label.ravel().astype(np.int64) + 128, minlength=256)[128 + self.obj_ids]
        return label, counts

    def frame(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Frame ``t``: (``H x W x 3`` uint8 RGB, ``K x H x W`` bool masks, ``K`` bool visible)."""
        rgb, label = self.render(t)
        masks = label[None] == self.obj_ids.astype(np.int8)[:, None, None]
        visible = np.count_nonzero(masks.reshape(len(self.obj_ids), -1), axis=1) >= self.config.min_visible_pixels
        return rgb, masks, visible

    def depth(self, t: int, label: np.ndarray | None = None) -> np.ndarray:
        """``H x W`` float32 exact depth of frame ``t`` in metres (z along the optical axis).

        ``label``: the frame's label map (``render(t)[1]``) when the caller has it, to skip re-rendering.
        """
        if label is None:
            label = self.render(t, noise=False)[1]
        return self._scene_depth().image(label, t)

    def label_depths(self, t: int) -> dict[int, float]:
        """Label-map value -> depth in metres on frame ``t`` of every drawn shape (targets, distractors, band)."""
        return self._scene_depth().label_depths(t)

    def _scene_depth(self) -> SceneDepth:
        if self._depth is None:
            self._depth = SceneDepth(self.seed, self.height, self.width, [x.label for x in self._layers])
        return self._depth

    def objects_3d(self, t: int, intrinsics: tuple[float, float, float, float]) -> list[SurfacePoints3D]:
        """The visible surface of each target on frame ``t`` in the optical frame of the pinhole camera
        ``(fx, fy, cx, cy)`` (pixels; the camera_info the frames are published with), in obj_id order."""
        label = self.render(t, noise=False)[1]
        depth = self.depth(t, label)
        return [surface_points(label, depth, int(k), intrinsics) for k in self.obj_ids]

    def stream(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Frames ``start .. stop - 1`` one at a time; endless when ``stop`` is None."""
        t = start
        while stop is None or t < stop:
            yield self.frame(t)
            t += 1

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        return self.stream(0, self.config.num_frames)

    def __len__(self) -> int:
        return self.config.num_frames


def _circles_overlap(a: _Layer, b: _Layer, t: int) -> bool:
    """Whether the bounding circles of two shapes overlap on frame ``t``."""
    d = math.dist(a.motion(t), b.motion(t))
    return d <= a.info.radius * a.scale(t) + b.info.radius * b.scale(t)


def generate_clip(seed: int, config: SceneConfig | None = None) -> Clip:
    """Render ``config.num_frames`` frames of ``SyntheticScene(seed, config)`` with their ground truth."""
    scene = SyntheticScene(seed, config)
    cfg = scene.config
    t_n, k = cfg.num_frames, len(scene.obj_ids)
    frames = np.empty((t_n, cfg.height, cfg.width, 3), np.uint8)
    masks = np.empty((t_n, k, cfg.height, cfg.width), bool)
    visible = np.empty((t_n, k), bool)
    for t, (rgb, m, v) in enumerate(scene):
        frames[t], masks[t], visible[t] = rgb, m, v
    return Clip(
        frames=frames,
        masks=masks,
        visible=visible,
        obj_ids=scene.obj_ids.copy(),
        objects=list(scene.objects),
        distractors=list(scene.distractors),
        events=list(scene.events),
        seed=scene.seed,
        config=cfg,
    )
