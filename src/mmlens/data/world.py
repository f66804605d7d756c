"""The synthetic world: objects, scenes, the world's knobs, and deterministic sampling.

A scene is plain data: a tuple of :class:`SceneObject` (shape, colour, size, centre) and a background
colour. Coordinates are fractions of the image side (x right, y down), so one scene renders at any
resolution. Every random choice comes from a NumPy ``Generator`` seeded by ``(seed, split, index)``,
so scene ``i`` of a split is a pure function of those three numbers and the splits are disjoint streams.
"""
from __future__ import annotations

import math
import threading
from bisect import bisect_right
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "heart")
COLOURS: tuple[str, ...] = ("red", "green", "blue", "yellow", "purple", "orange")
SIZES: tuple[str, ...] = ("small", "large")
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")
SPLITS: tuple[str, ...] = ("train", "val", "test")

#: Fill colour of each colour name (clearly apart in RGB; none is near the white background).
COLOUR_RGB: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 160, 50),
    "blue": (30, 80, 230),
    "yellow": (240, 205, 0),
    "purple": (140, 50, 190),
    "orange": (255, 130, 0),
}
#: Radius of the circle each shape fits in, as a fraction of the image side.
SIZE_RADIUS: dict[str, float] = {"small": 0.085, "large": 0.15}
INVERSE_RELATION: dict[str, str] = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
MAX_OBJECTS_LIMIT = 9  # number words and count answers go up to "nine"
DEFAULT_BACKGROUND = (255, 255, 255)


def _check_name(value: Any, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; use one of {allowed}")


def check_split(split: str) -> int:
    """Return the index of ``split`` in :data:`SPLITS`, or raise a ValueError naming it."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")
    return SPLITS.index(split)


@dataclass(frozen=True)
class SceneObject:
    """One object: shape, colour and size names, and its centre in [0, 1] image coordinates.

    ``scale`` multiplies the size's radius (the size-shift knob); ``rgb`` overrides the fill colour
    (colour-shade jitter). Both default to off.
    """

    shape: str
    colour: str
    size: str
    x: float
    y: float
    scale: float = 1.0
    rgb: tuple[int, int, int] | None = None

    def __post_init__(self) -> None:
        _check_name(self.shape, SHAPES, "shape")
        _check_name(self.colour, COLOURS, "colour")
        _check_name(self.size, SIZES, "size")

    @property
    def radius(self) -> float:
        """Radius of the circle the shape fits in, as a fraction of the image side."""
        return SIZE_RADIUS[self.size] * self.scale

    @property
    def fill(self) -> tuple[int, int, int]:
        """The RGB colour the object is drawn in."""
        return self.rgb if self.rgb is not None else COLOUR_RGB[self.colour]


def relation_holds(a: SceneObject, b: SceneObject, relation: str) -> bool:
    """The one spatial rule of the world: is ``a`` ``relation`` ``b``?

    True only when the centres differ along that axis by more than the larger of the two radii, so
    every relation the captions state is clear at a glance. Generator and checker both use this rule.
    """
    threshold = max(a.radius, b.radius)
    if relation == "left of":
        return b.x - a.x > threshold
    if relation == "right of":
        return a.x - b.x > threshold
    if relation == "above":
        return b.y - a.y > threshold
    if relation == "below":
        return a.y - b.y > threshold
    raise ValueError(f"unknown relation {relation!r}; use one of {RELATIONS}")


@dataclass(frozen=True)
class Scene:
    """A scene: objects (plain data) and a background colour."""

    objects: tuple[SceneObject, ...]
    background: tuple[int, int, int] = DEFAULT_BACKGROUND

    def __len__(self) -> int:
        return len(self.objects)

    def relations(self, i: int, j: int) -> tuple[str, ...]:
        """All relations that clearly hold of object ``i`` to object ``j`` (see :func:`relation_holds`)."""
        a, b = self.objects[i], self.objects[j]
        return tuple(r for r in RELATIONS if relation_holds(a, b, r))

    def relation(self, i: int, j: int) -> str | None:
        """The dominant clear relation of object ``i`` to ``j`` (the axis with the larger gap), or None."""
        rels = self.relations(i, j)
        if not rels:
            return None
        a, b = self.objects[i], self.objects[j]
        gap = {"left of": b.x - a.x, "right of": a.x - b.x, "above": b.y - a.y, "below": a.y - b.y}
        return max(rels, key=lambda r: gap[r])

    def to_dict(self) -> dict:
        """Plain-data form (JSON-serialisable)."""
        return {
            "objects": [{k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(o).items()} for o in self.objects],
            "background": list(self.background),
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> "Scene":
        """Inverse of :meth:`to_dict`."""
        objects = []
        for o in d["objects"]:
            o = dict(o)
            if o.get("rgb") is not None:
                o["rgb"] = tuple(int(c) for c in o["rgb"])
            objects.append(SceneObject(**o))
        return cls(tuple(objects), tuple(int(c) for c in d.get("background", DEFAULT_BACKGROUND)))

    def render(self, resolution: int = 64, antialias: bool = False):
        """Render this scene; see :func:`mmlens.data.render.render_scene`."""
        from mmlens.data.render import render_scene

        return render_scene(self, resolution=resolution, antialias=antialias)


@dataclass(frozen=True)
class WorldConfig:
    """The world's knobs. Defaults give the standard world; every shift knob is off by default.

    Args:
        max_objects: largest number of objects a scene may hold (must fit at the largest size).
        shapes, colours, sizes: the names objects are drawn from (uniformly, except for the bias knob).
        held_out: (colour, shape) pairs that never occur in the "train" split (they do in val/test).
        colour_given_shape: bias knob, e.g. ``{"circle": {"red": 0.8}}`` means P(red | circle) = 0.8
            and the other colours share the remaining 0.2 equally.
        bias_splits: splits the bias applies to (e.g. ``("train",)`` for a biased train set only).
        background: background RGB.
        colour_jitter: per-object shade jitter, as a fraction of 255 per channel (0 = off).
        size_scale: multiplies every radius (1 = standard sizes).
        margin: gap between objects and the image border, fraction of the side.
        gap: minimum gap between two objects' bounding circles, fraction of the side.
        position_grid: object centres lie on a ``position_grid x position_grid`` lattice of cell centres
            (16: every 4 pixels at 64 x 64, i.e. two offsets per 8-pixel patch); ``None`` = continuous.
            A small ViT learns shapes far sooner when an object can sit at only a few offsets relative
            to its patch grid: a patch embedding is equivariant to shifts of whole patches only.
    """

    max_objects: int = 4
    shapes: tuple[str, ...] = SHAPES
    colours: tuple[str, ...] = COLOURS
    sizes: tuple[str, ...] = SIZES
    held_out: frozenset = frozenset()
    colour_given_shape: Mapping[str, Mapping[str, float]] | None = None
    bias_splits: tuple[str, ...] = SPLITS
    background: tuple[int, int, int] = DEFAULT_BACKGROUND
    colour_jitter: float = 0.0
    size_scale: float = 1.0
    margin: float = 0.02
    gap: float = 0.03
    position_grid: int | None = 16
    _tables: dict = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        for name, allowed, what in (("shapes", SHAPES, "shape"), ("colours", COLOURS, "colour"), ("sizes", SIZES, "size")):
            values = tuple(getattr(self, name))
            if not values:
                raise ValueError(f"{name} is empty; give at least one {what} from {allowed}")
            for v in values:
                _check_name(v, allowed, what)
            set_(name, values)
        for s in self.bias_splits:
            check_split(s)
        if not (isinstance(self.size_scale, (int, float)) and 0.2 <= self.size_scale <= 1.5):
            raise ValueError(f"size_scale={self.size_scale!r} is out of range; use a number in [0.2, 1.5]")
        if not 0.0 <= self.colour_jitter <= 0.5:
            raise ValueError(f"colour_jitter={self.colour_jitter!r} is out of range; use a fraction in [0, 0.5]")
        if len(self.background) != 3 or not all(0 <= int(c) <= 255 for c in self.background):
            raise ValueError(f"background={self.background!r} is not an RGB triple of ints in [0, 255]")
        set_("background", tuple(int(c) for c in self.background))
        if not isinstance(self.max_objects, int) or self.max_objects < 1:
            raise ValueError(f"max_objects={self.max_objects!r} must be a positive int")
        capacity = self.capacity
        if self.max_objects > capacity:
            raise ValueError(
                f"max_objects={self.max_objects} objects do not fit at size_scale={self.size_scale}: at most "
                f"{capacity} fit; lower max_objects or size_scale"
            )
        if self.position_grid is not None and not (isinstance(self.position_grid, int) and self.position_grid >= 4):
            raise ValueError(f"position_grid={self.position_grid!r} must be an int >= 4, or None for continuous positions")
        set_("held_out", _normalise_held_out(self.held_out))
        set_("_tables", {split: _sampling_tables(self, split) for split in SPLITS})

    @property
    def capacity(self) -> int:
        """How many objects of the largest size are guaranteed to fit (jittered-grid layout)."""
        r = max(SIZE_RADIUS[s] for s in self.sizes) * self.size_scale
        usable = 1.0 - 2 * self.margin
        g = 1
        while usable / (g + 1) >= 2 * r + self.gap:
            g += 1
        return min(g * g, MAX_OBJECTS_LIMIT)


def _normalise_held_out(held_out) -> frozenset:
    """Accept (colour, shape) or (shape, colour) pairs; return a frozenset of (colour, shape)."""
    pairs = set()
    for pair in held_out:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError(f"held_out entry {pair!r} is not a pair; use e.g. ('red', 'triangle')")
        a, b = pair
        if a in COLOURS and b in SHAPES:
            pairs.add((a, b))
        elif a in SHAPES and b in COLOURS:
            pairs.add((b, a))
        else:
            raise ValueError(f"held_out entry {pair!r} is not a (colour, shape) pair; colours {COLOURS}, shapes {SHAPES}")
    return frozenset(pairs)


def colour_distribution(world: WorldConfig, shape: str, split: str = "train") -> dict[str, float]:
    """P(colour | shape) that ``split`` of ``world`` samples from (bias knob and held-out pairs applied)."""
    check_split(split)
    _check_name(shape, world.shapes, "shape (of this world)")
    bias = (world.colour_given_shape or {}) if split in world.bias_splits else {}
    for s, probs in (world.colour_given_shape or {}).items():
        _check_name(s, world.shapes, "shape in colour_given_shape")
        for c, p in probs.items():
            _check_name(c, world.colours, "colour in colour_given_shape")
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"colour_given_shape[{s!r}][{c!r}]={p!r} is not a probability in [0, 1]")
        total = sum(probs.values())
        if total > 1 + 1e-9 or (len(probs) == len(world.colours) and abs(total - 1) > 1e-6):
            raise ValueError(f"colour_given_shape[{s!r}] sums to {total}; probabilities must sum to 1 at most")
    given = dict(bias.get(shape, {}))
    rest = [c for c in world.colours if c not in given]
    share = (1.0 - sum(given.values())) / len(rest) if rest else 0.0
    probs = {c: given.get(c, share) for c in world.colours}
    if split == "train":
        probs = {c: (0.0 if (c, shape) in world.held_out else p) for c, p in probs.items()}
    total = sum(probs.values())
    if total <= 0:
        return {}
    return {c: p / total for c, p in probs.items()}


def _sampling_tables(world: WorldConfig, split: str):
    """Cumulative tables for fast sampling: shapes that can occur, and colours given each shape."""
    shapes, colour_cdfs = [], []
    for s in world.shapes:
        dist = colour_distribution(world, s, split)
        if dist:
            shapes.append(s)
            colour_cdfs.append(np.cumsum([dist[c] for c in world.colours]).tolist())
    if not shapes:
        raise ValueError(f"held_out={set(world.held_out)} removes every (colour, shape) pair from split {split!r}")
    return tuple(shapes), colour_cdfs


def _parse_n_objects(n_objects, world: WorldConfig) -> tuple[int, int]:
    if isinstance(n_objects, (int, np.integer)):
        lo = hi = int(n_objects)
    elif isinstance(n_objects, (tuple, list)) and len(n_objects) == 2:
        lo, hi = int(n_objects[0]), int(n_objects[1])
    else:
        raise ValueError(f"n_objects={n_objects!r} must be an int or a (min, max) pair")
    if lo < 1 or hi < lo:
        raise ValueError(f"n_objects={n_objects!r} must be at least 1 (and min <= max)")
    if hi > world.max_objects:
        raise ValueError(
            f"n_objects={n_objects!r} is more than fit: this world holds at most max_objects={world.max_objects} "
            f"(raise WorldConfig.max_objects, up to {world.capacity} at size_scale={world.size_scale})"
        )
    return lo, hi


_MASK128 = (1 << 128) - 1
_LOCAL = threading.local()


def _mix128(*values: int) -> int:
    """A 128-bit hash of small ints (multiply-xorshift), for seeding streams without SeedSequence's cost."""
    x = 0x6A09E667F3BCC908B2FB1366EA957D3E
    for v in values:
        x = ((x ^ (v & _MASK128)) * 0x9E3779B97F4A7C15F39CC0605CEDC835 + 0xD1B54A32D192ED03) & _MASK128
        x ^= x >> 67
    x = (x * 0xDA942042E4DD58B5C2B2AE3D27D4EB4F) & _MASK128
    return x ^ (x >> 61)


def _stream_state(seed: int, split: str, index: int) -> dict:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative int")
    key = (int(seed), check_split(split), int(index))
    return {
        "bit_generator": "PCG64",
        "state": {"state": _mix128(*key, 1), "inc": _mix128(*key, 2) | 1},
        "has_uint32": 0,
        "uinteger": 0,
    }


def scene_rng(seed: int, split: str = "train", index: int = 0) -> np.random.Generator:
    """The generator for scene ``index`` of ``split``: one independent stream per (seed, split, index).

    ``make_scene(scene_rng(seed, split, i), ...)`` equals ``make_scenes(n, seed, ..., split)[i]``.
    """
    rng = np.random.Generator(np.random.PCG64())
    rng.bit_generator.state = _stream_state(seed, split, index)
    return rng


def _shared_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """Same stream as :func:`scene_rng`, reusing one thread-local Generator (setting a state is ~10x
    cheaper than building a Generator). Only for immediate, non-escaping use."""
    rng = getattr(_LOCAL, "rng", None)
    if rng is None:
        rng = _LOCAL.rng = np.random.Generator(np.random.PCG64())
    rng.bit_generator.state = _stream_state(seed, split, index)
    return rng


def _snap(v: float, lo: float, hi: float, grid: int | None) -> float:
    """The lattice point ``(k + 0.5) / grid`` nearest to ``v`` within ``[lo, hi]`` (``v`` if none or no grid)."""
    if grid is None:
        return v
    k = min(max(math.floor(v * grid), math.ceil(lo * grid - 0.5)), math.floor(hi * grid - 0.5))
    point = (k + 0.5) / grid
    return point if lo - 1e-9 <= point <= hi + 1e-9 else v


def _place(radii: list[float], rng: np.random.Generator, world: WorldConfig) -> list[tuple[float, float]]:
    """Centres for circles of ``radii`` inside the unit square, keeping ``margin`` and ``gap`` (on the
    position lattice when ``world.position_grid`` is set)."""
    n, tries, grid = len(radii), 32, world.position_grid
    order = sorted(range(n), key=lambda k: -radii[k])  # large objects first: much higher success rate
    margin, gap = world.margin, world.gap
    for _ in range(4):
        block = rng.random(n * tries * 2).tolist()
        centres: list = [None] * n
        placed: list[tuple[float, float, float]] = []  # (x, y, radius + gap)
        for k, idx in enumerate(order):
            r = radii[idx]
            lo, span = r + margin, 1.0 - 2 * (r + margin)
            if grid is not None:  # lattice points (j + 0.5) / grid with lo <= point <= lo + span
                j_lo, j_hi = math.ceil(lo * grid - 0.5), math.floor((lo + span) * grid - 0.5)
                on_grid = j_lo <= j_hi
            for t in range(k * tries * 2, (k + 1) * tries * 2, 2):
                cx, cy = lo + span * block[t], lo + span * block[t + 1]
                if grid is not None and on_grid:  # inline _snap: this loop is the world's hot path
                    cx = (min(max(int(cx * grid), j_lo), j_hi) + 0.5) / grid
                    cy = (min(max(int(cy * grid), j_lo), j_hi) + 0.5) / grid
                for px, py, pr in placed:
                    if (cx - px) ** 2 + (cy - py) ** 2 < (pr + r) ** 2:
                        break
                else:
                    centres[idx] = (cx, cy)
                    placed.append((cx, cy, r + gap))
                    break
            else:
                break
        if len(placed) == n:
            return centres
    # Fallback for crowded scenes: one object per cell of a jittered g x g grid (always fits, see capacity).
    g = math.ceil(math.sqrt(n))
    cells = rng.permutation(g * g)[:n]
    cell = (1.0 - 2 * margin) / g
    centres = []
    for idx in range(n):
        r = radii[idx] + gap / 2
        row, col = divmod(int(cells[idx]), g)
        xy = []
        for c in (col, row):
            lo, hi = margin + c * cell + r, margin + (c + 1) * cell - r
            v = lo + (hi - lo) * float(rng.random()) if hi > lo else (lo + hi) / 2
            xy.append(_snap(v, lo, hi, grid))
        centres.append(tuple(xy))
    return centres


def make_scene(
    seed_or_rng: int | np.random.Generator = 0,
    n_objects: int | tuple[int, int] = (1, 3),
    split: str = "train",
    world: WorldConfig | None = None,
) -> Scene:
    """Sample one scene.

    Args:
        seed_or_rng: an int seed (the scene equals ``make_scenes(1, seed, ...)[0]``) or a NumPy Generator.
        n_objects: exact count, or an inclusive (min, max) range sampled uniformly.
        split: "train", "val" or "test"; "train" never holds ``world.held_out`` pairs.
        world: the world's knobs (default :class:`WorldConfig()`).

    Returns:
        A :class:`Scene` whose objects do not overlap and lie inside the image.
    """
    world = world or _default_world()
    check_split(split)
    lo, hi = _parse_n_objects(n_objects, world)
    rng = seed_or_rng if isinstance(seed_or_rng, np.random.Generator) else _shared_rng(seed_or_rng, split, 0)
    return _sample(rng, lo, hi, split, world)


def _sample(rng: np.random.Generator, lo: int, hi: int, split: str, world: WorldConfig) -> Scene:
    u = rng.random(1 + 3 * hi).tolist()  # one draw for the count, three per object slot
    n = lo + min(int(u[0] * (hi - lo + 1)), hi - lo)
    shapes, colour_cdfs = world._tables[split]
    colours, sizes, scale = world.colours, world.sizes, float(world.size_scale)
    attrs = []
    for k in range(n):
        us, uc, uz = u[1 + 3 * k : 4 + 3 * k]
        si = min(int(us * len(shapes)), len(shapes) - 1)
        cdf = colour_cdfs[si]
        ci = min(bisect_right(cdf, uc * cdf[-1]), len(colours) - 1)
        attrs.append((shapes[si], colours[ci], sizes[min(int(uz * len(sizes)), len(sizes) - 1)]))
    radii = [SIZE_RADIUS[a[2]] * scale for a in attrs]
    centres = _place(radii, rng, world)
    rgbs: list = [None] * n
    if world.colour_jitter > 0:
        noise = rng.uniform(-1, 1, (n, 3)) * world.colour_jitter * 255
        rgbs = [
            tuple(int(v) for v in np.clip(np.array(COLOUR_RGB[a[1]]) + noise[k], 0, 255).round())
            for k, a in enumerate(attrs)
        ]
    objects = tuple(
        SceneObject(s, c, z, centres[k][0], centres[k][1], scale, rgbs[k]) for k, (s, c, z) in enumerate(attrs)
    )
    return Scene(objects, world.background)


_DEFAULT_WORLD: list = []


def _default_world() -> WorldConfig:
    if not _DEFAULT_WORLD:
        _DEFAULT_WORLD.append(WorldConfig())
    return _DEFAULT_WORLD[0]


def make_scenes(
    n: int,
    seed: int = 0,
    n_objects: int | tuple[int, int] = (1, 3),
    split: str = "train",
    world: WorldConfig | None = None,
) -> list[Scene]:
    """Sample ``n`` scenes; scene ``i`` depends only on (seed, split, i), so prefixes agree across ``n``.

    Args:
        n: number of scenes.
        seed: non-negative int seed.
        n_objects: exact count or inclusive (min, max) range.
        split: "train", "val" or "test" (disjoint random streams; held-out pairs never in "train").
        world: the world's knobs.

    Returns:
        A list of :class:`Scene`.
    """
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n={n!r} must be a non-negative int")
    world = world or _default_world()
    check_split(split)
    lo, hi = _parse_n_objects(n_objects, world)
    return [_sample(_shared_rng(seed, split, i), lo, hi, split, world) for i in range(n)]
