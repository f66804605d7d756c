"""Four applications, each a few lines on top of any CLIP-style model (``encode_image`` / ``encode_text``).

* **retrieval**: rank images by their similarity to a text (:func:`embed_scenes`, :func:`retrieve`);
* **captioning by ranking**: pick, from a pool of captions the world's grammar generated, those most
  similar to an image (:func:`make_caption_pool`, :func:`caption_scenes`); a real captioner writes new
  text, this one can only choose;
* **visual question answering**: turn each candidate answer into a statement ("how many circles are
  there" + "two" -> "there are two circles") and keep the answer whose statement fits the image best
  (:func:`question_statements`, :func:`answer_question`, :func:`vqa_accuracy`);
* **text-guided generation by search**: sample scenes of the synthetic world, then hill-climb over their
  objects to maximise similarity to a text, and render the winner (:func:`generate_scene`).

Example::

    model, preprocess, tokenizer = mmlens.load_model()
    scenes = mmlens.data.make_scenes(200, split="test")
    image_emb = embed_scenes(model, preprocess, scenes)                          # (200, D)
    retrieve(model, tokenizer, "a red circle", image_emb, k=3)                   # [(index, score), ...]
    answer_question(model, preprocess, tokenizer, scenes[0], "how many circles are there")
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from mmlens import data, evaluate
from mmlens.data.grammar import NUMBER_WORDS, RELATION_PHRASES, Caption, NounPhrase, _parse_np, normalise
from mmlens.data.world import INVERSE_RELATION, SIZE_RADIUS, Scene, SceneObject, WorldConfig, _snap
from mmlens.shift import input_resolution

__all__ = [
    "embed_scenes",
    "retrieve",
    "rank_texts",
    "make_caption_pool",
    "caption_scenes",
    "question_statements",
    "answer_question",
    "vqa_accuracy",
    "SearchResult",
    "mutate_scene",
    "generate_scene",
]


def _image_batch(images, preprocess: Callable, resolution: int) -> torch.Tensor:
    """Scenes (rendered at ``resolution``) or PIL images -> preprocessed batch ``(N, 3, H, W)``."""
    from PIL import Image

    out = []
    for k, im in enumerate(images):
        if isinstance(im, Scene):
            im = Image.fromarray(data.render_image(im, resolution))
        elif isinstance(im, data.RenderedScene):
            im = im.pil()
        elif not isinstance(im, Image.Image):
            raise TypeError(f"images[{k}] is a {type(im).__name__}; pass Scenes, RenderedScenes or PIL images")
        out.append(preprocess(im))
    if not out:
        raise ValueError("no images given; pass at least one Scene or PIL image")
    return torch.stack(out)


def embed_scenes(
    model: torch.nn.Module, preprocess: Callable, scenes: Sequence, resolution: int | None = None
) -> torch.Tensor:
    """L2-normalised embeddings ``(N, D)`` of scenes (or PIL images), rendered at the model's input size."""
    resolution = resolution or input_resolution(model)
    return evaluate.encode_images(model, _image_batch(list(scenes), preprocess, resolution))


def retrieve(
    model: torch.nn.Module, tokenizer: Callable, query: str, image_emb: torch.Tensor, k: int = 5
) -> list[tuple[int, float]]:
    """Text-to-image retrieval: the ``k`` images most similar to ``query``.

    Args:
        model, tokenizer: from :func:`mmlens.load_model`.
        query: a text, e.g. "a small red circle".
        image_emb: ``(N, D)`` normalised image embeddings (:func:`embed_scenes`).
        k: how many to return.

    Returns:
        ``[(image index, cosine similarity), ...]``, best first.
    """
    if image_emb.ndim != 2:
        raise ValueError(f"image_emb must be (N, D), got shape {tuple(image_emb.shape)}; use embed_scenes")
    if not 1 <= k <= len(image_emb):
        raise ValueError(f"k={k} must be between 1 and the number of images ({len(image_emb)})")
    text_emb = evaluate.encode_texts(model, tokenizer, [query])  # (1, D)
    scores = (image_emb @ text_emb[0]).topk(k)  # (k,)
    return list(zip(scores.indices.tolist(), scores.values.tolist()))


def rank_texts(
    model: torch.nn.Module,
    preprocess: Callable,
    tokenizer: Callable,
    image,
    texts: Sequence[str],
    text_emb: torch.Tensor | None = None,
    k: int | None = None,
    resolution: int | None = None,
) -> list[tuple[str, float]]:
    """Texts sorted by cosine similarity to one image (a Scene or a PIL image).

    Args:
        model, preprocess, tokenizer: from :func:`mmlens.load_model`.
        image: the image.
        texts: candidate texts.
        text_emb: their embeddings ``(T, D)`` if already computed (saves time for a fixed pool).
        k: keep the best ``k`` (default all).
        resolution: render size for a Scene (default the model's input size).

    Returns:
        ``[(text, similarity), ...]``, best first.
    """
    texts = list(texts)
    if not texts:
        raise ValueError("texts is empty; pass at least one candidate text")
    if text_emb is None:
        text_emb = evaluate.encode_texts(model, tokenizer, texts)
    if len(text_emb) != len(texts):
        raise ValueError(f"text_emb has {len(text_emb)} rows for {len(texts)} texts; pass one row per text")
    image_emb = embed_scenes(model, preprocess, [image], resolution)  # (1, D)
    scores = (text_emb @ image_emb[0]).tolist()
    order = sorted(range(len(texts)), key=lambda j: -scores[j])[: k or len(texts)]
    return [(texts[j], scores[j]) for j in order]


def make_caption_pool(
    n_scenes: int = 400,
    seed: int = 0,
    split: str = "val",
    kinds: Sequence[str] = data.CAPTION_KINDS,
    n_objects: int | tuple[int, int] = (1, 4),
) -> list[str]:
    """A fixed pool of captions for captioning by ranking: one caption of each kind per random scene.

    The pool comes from *other* scenes (a different split than the test scenes), so ranking it is what
    early retrieval-based captioners did: choose the best existing sentence, never write a new one.

    Returns:
        Distinct captions, sorted.
    """
    for kind in kinds:
        if kind not in data.CAPTION_KINDS:
            raise ValueError(f"unknown caption kind {kind!r}; use some of {data.CAPTION_KINDS}")
    rng = np.random.default_rng(seed)
    pool = set()
    for scene in data.make_scenes(n_scenes, seed=seed, n_objects=n_objects, split=split):
        for kind in kinds:
            if len(scene) >= 2 or kind in ("attribute", "count"):
                pool.add(data.make_caption(scene, rng, kind=kind))
    return sorted(pool)


def caption_scenes(
    model: torch.nn.Module,
    preprocess: Callable,
    tokenizer: Callable,
    scenes: Sequence[Scene],
    pool: Sequence[str],
    k: int = 3,
    resolution: int | None = None,
) -> list[list[tuple[str, float, bool]]]:
    """Caption each scene by ranking ``pool``; mark each chosen caption with the world's checker.

    Returns:
        Per scene, the best ``k`` ``(caption, similarity, true for this scene)``.
    """
    pool = list(pool)
    if not 1 <= k <= len(pool):
        raise ValueError(f"k={k} must be between 1 and the pool size ({len(pool)})")
    text_emb = evaluate.encode_texts(model, tokenizer, pool)  # (T, D)
    image_emb = embed_scenes(model, preprocess, scenes, resolution)  # (N, D)
    top = (image_emb @ text_emb.T).topk(k, dim=-1)  # (N, k)
    return [
        [(pool[j], s, data.caption_is_true(pool[j], scene)) for s, j in zip(vals.tolist(), idx.tolist())]
        for scene, vals, idx in zip(scenes, top.values, top.indices)
    ]


# --- visual question answering -------------------------------------------------------------------


def _the_phrase(words: list[str]) -> NounPhrase:
    """"small red circle" (after "the") -> NounPhrase."""
    phrase, j = _parse_np(["a"] + words, 0)
    if j != len(words) + 1:
        raise ValueError(f"cannot read {' '.join(words)!r} as one noun phrase")
    return phrase


def _relation_split(words: list[str]) -> tuple[list[str], str, list[str]]:
    """["red", "circle", "to", "the", "left", "of", "the", "blue", "square"] -> (a words, relation, b words)."""
    for i in range(len(words)):
        for relation, phrase in RELATION_PHRASES.items():
            p = phrase.split() + ["the"]
            if words[i : i + len(p)] == p:
                return words[:i], relation, words[i + len(p) :]
    raise ValueError(f"no relation found in {' '.join(words)!r}")


def question_statements(question: str, max_count: int = 4) -> dict[str, str]:
    """Each candidate answer to a question of the world's grammar, written as a statement to score.

    Examples: "what colour is the small circle" -> {"red": "a small red circle", ...};
    "how many circles are there" -> {"zero": "there are zero circles", "one": "there is one circle", ...};
    "is there a red star" -> {"yes": "there is a red star", "no": "there is no red star"};
    "is the red circle above the blue star" -> {"yes": "a red circle above a blue star",
    "no": "a red circle below a blue star"} (the world only asks where the relation or its inverse holds).

    Args:
        question: a question from :func:`mmlens.data.make_questions` (or written in the same grammar).
        max_count: largest count offered for "how many" questions.

    Returns:
        ``{answer: statement}``.
    """
    w = normalise(question)
    if w[:2] == ["how", "many"] and w[-2:] == ["are", "there"]:
        phrase, j = _parse_np(["two"] + w[2:-2], 0)
        if j != len(w) - 3:
            raise ValueError(f"cannot read the counted phrase in {question!r}")
        out = {}
        for n in range(max_count + 1):
            np_ = NounPhrase(phrase.size, phrase.colour, phrase.shape, n, phrase.noun)
            out[NUMBER_WORDS[n]] = ("there is " if n == 1 else "there are ") + np_.text()
        return out
    if w[:1] == ["what"] and len(w) > 4 and w[1] in ("colour", "color", "shape") and w[2:4] == ["is", "the"]:
        phrase = _the_phrase(w[4:])
        if w[1] == "shape":
            return {s: NounPhrase(phrase.size, phrase.colour, s).text() for s in data.SHAPES}
        return {c: NounPhrase(phrase.size, c, phrase.shape, None, phrase.noun).text() for c in data.COLOURS}
    if w[:2] == ["is", "there"]:
        phrase, j = _parse_np(w, 2)
        if j != len(w):
            raise ValueError(f"cannot read the phrase in {question!r}")
        words = phrase.words()
        if phrase.count is not None or words[0] not in ("a", "an"):
            raise ValueError(f"cannot write a negative statement for {question!r}; ask 'is there a ...'")
        return {"yes": "there is " + " ".join(words), "no": "there is no " + " ".join(words[1:])}
    if w[:2] == ["is", "the"]:
        a_words, relation, b_words = _relation_split(w[2:])
        a, b = _the_phrase(a_words), _the_phrase(b_words)
        return {ans: Caption((a, b), rel).text() for ans, rel in (("yes", relation), ("no", INVERSE_RELATION[relation]))}
    raise ValueError(f"cannot turn {question!r} into statements; ask in the grammar of mmlens.data.make_questions")


def answer_question(
    model: torch.nn.Module,
    preprocess: Callable,
    tokenizer: Callable,
    image,
    question: str,
    max_count: int = 4,
    resolution: int | None = None,
) -> tuple[str, dict[str, float]]:
    """Zero-shot VQA with a contrastive model: the answer whose statement is most similar to the image.

    Returns:
        ``(answer, {answer: similarity of its statement})``.
    """
    statements = question_statements(question, max_count)
    ranked = rank_texts(model, preprocess, tokenizer, image, list(statements.values()), resolution=resolution)
    score_of = dict(ranked)
    scores = {ans: score_of[s] for ans, s in statements.items()}
    return max(scores, key=scores.get), scores


def vqa_accuracy(
    model: torch.nn.Module,
    preprocess: Callable,
    tokenizer: Callable,
    n: int = 100,
    seed: int = 0,
    split: str = "test",
    n_objects: int | tuple[int, int] = (1, 4),
    resolution: int | None = None,
) -> dict[str, dict[str, float]]:
    """Accuracy of :func:`answer_question` per question kind on ``n`` test scenes.

    Returns:
        ``{kind: {"accuracy": ..., "chance": 1 / number of candidate answers (mean), "n": questions}}``.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n={n!r} must be a positive int")
    scenes = data.make_scenes(n, seed=seed, n_objects=n_objects, split=split)
    image_emb = embed_scenes(model, preprocess, scenes, resolution)  # (n, D)
    questions = [(i, q) for i, s in enumerate(scenes) for q in data.make_questions(s, seed=seed + i)]
    max_count = max(len(s) for s in scenes)
    statements = [question_statements(q.text, max_count) for _, q in questions]
    texts = sorted({t for st in statements for t in st.values()})
    index = {t: j for j, t in enumerate(texts)}
    sim = image_emb @ evaluate.encode_texts(model, tokenizer, texts).T  # (n, T)
    stats: dict[str, list] = {}
    for (i, q), st in zip(questions, statements):
        best = max(st, key=lambda ans: sim[i, index[st[ans]]].item())
        stats.setdefault(q.kind, []).append((best == q.answer, 1.0 / len(st)))
    return {
        kind: {"accuracy": float(np.mean([c for c, _ in v])), "chance": float(np.mean([p for _, p in v])), "n": len(v)}
        for kind, v in ((k, stats[k]) for k in data.QUESTION_KINDS if k in stats)
    }


# --- text-guided generation by search ------------------------------------------------------------


@dataclass
class SearchResult:
    """Outcome of :func:`generate_scene`.

    Attributes:
        text: the prompt.
        scene: the best scene found.
        score: its cosine similarity to the text.
        history: ``(step, score, scene)`` each time the best scene improved (step 0: best random sample).
        n_evaluated: how many scenes were rendered and scored in all.
    """

    text: str
    scene: Scene
    score: float
    history: list[tuple[int, float, Scene]] = field(default_factory=list)
    n_evaluated: int = 0


def _fits(objects: Sequence[SceneObject], world: WorldConfig) -> bool:
    """Every object inside the image (with margin) and no two closer than the world's gap."""
    for k, a in enumerate(objects):
        r = a.radius
        if not (r + world.margin <= a.x <= 1 - r - world.margin and r + world.margin <= a.y <= 1 - r - world.margin):
            return False
        for b in objects[:k]:
            if math.hypot(a.x - b.x, a.y - b.y) < a.radius + b.radius + world.gap:
                return False
    return True


def _random_position(radius: float, rng: np.random.Generator, world: WorldConfig) -> tuple[float, float]:
    """A centre that keeps an object of ``radius`` inside the margin, on the world's position lattice
    (as :func:`~mmlens.data.make_scene` places objects) when ``world.position_grid`` is set."""
    lo = radius + world.margin
    return tuple(float(_snap(float(v), lo, 1 - lo, world.position_grid)) for v in lo + (1 - 2 * lo) * rng.random(2))


def mutate_scene(scene: Scene, rng: np.random.Generator, world: WorldConfig | None = None, tries: int = 20) -> Scene:
    """One random edit of ``scene`` that keeps it valid: recolour, reshape, resize, move, add or remove an object.

    Args:
        scene: the scene to edit (not changed).
        rng: NumPy generator.
        world: margins, gap and the largest object count (default ``WorldConfig()``).
        tries: attempts before giving up and returning ``scene`` unchanged.

    Returns:
        A new Scene (or ``scene`` itself if no valid edit was found in ``tries`` attempts).
    """
    world = world or WorldConfig()
    objects = list(scene.objects)
    for _ in range(tries):
        edit = ("colour", "shape", "size", "move", "add", "remove")[int(rng.integers(6))]
        new = list(objects)
        k = int(rng.integers(len(objects)))
        o = objects[k]
        if edit == "colour":
            new[k] = SceneObject(o.shape, str(rng.choice(world.colours)), o.size, o.x, o.y)
        elif edit == "shape":
            new[k] = SceneObject(str(rng.choice(world.shapes)), o.colour, o.size, o.x, o.y)
        elif edit == "size":
            new[k] = SceneObject(o.shape, o.colour, str(rng.choice(world.sizes)), o.x, o.y)
        elif edit == "move":
            new[k] = SceneObject(o.shape, o.colour, o.size, *_random_position(o.radius, rng, world))
        elif edit == "add" and len(objects) < world.max_objects:
            size = str(rng.choice(world.sizes))
            xy = _random_position(SIZE_RADIUS[size], rng, world)
            new.append(SceneObject(str(rng.choice(world.shapes)), str(rng.choice(world.colours)), size, *xy))
        elif edit == "remove" and len(objects) > 1:
            del new[k]
        else:
            continue
        if new != objects and _fits(new, world):
            return Scene(tuple(new), scene.background)
    return scene


@torch.no_grad()
def generate_scene(
    model: torch.nn.Module,
    preprocess: Callable,
    tokenizer: Callable,
    text: str,
    n_candidates: int = 64,
    n_steps: int = 10,
    n_proposals: int = 16,
    seed: int = 0,
    n_objects: int | tuple[int, int] = (1, 4),
    resolution: int | None = None,
) -> SearchResult:
    """Text-guided "generation" by search: the scene of the world whose image CLIP finds closest to ``text``.

    First the best of ``n_candidates`` random scenes, then ``n_steps`` rounds of hill climbing: each round
    scores ``n_proposals`` random edits of the current best (:func:`mutate_scene`) and keeps the best edit
    if it beats the current score. Nothing is learned; CLIP is only the judge.

    Returns:
        A :class:`SearchResult`.
    """
    if n_candidates < 1 or n_steps < 0 or n_proposals < 1:
        raise ValueError(f"need n_candidates >= 1, n_steps >= 0, n_proposals >= 1; got {n_candidates}, {n_steps}, {n_proposals}")
    resolution = resolution or input_resolution(model)
    text_emb = evaluate.encode_texts(model, tokenizer, [text])[0]  # (D,)

    def score(scenes: list[Scene]) -> list[float]:
        return (embed_scenes(model, preprocess, scenes, resolution) @ text_emb).tolist()

    world = WorldConfig()
    rng = np.random.default_rng(seed)
    candidates = data.make_scenes(n_candidates, seed=seed, n_objects=n_objects, split="val")
    scores = score(candidates)
    j = int(np.argmax(scores))
    best, best_score = candidates[j], scores[j]
    history = [(0, best_score, best)]
    n_evaluated = n_candidates
    for step in range(1, n_steps + 1):
        proposals = [mutate_scene(best, rng, world) for _ in range(n_proposals)]
        scores = score(proposals)
        n_evaluated += n_proposals
        j = int(np.argmax(scores))
        if scores[j] > best_score:
            best, best_score = proposals[j], scores[j]
            history.append((step, best_score, best))
    return SearchResult(text, best, best_score, history, n_evaluated)
