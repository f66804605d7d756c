"""Search over embedding galleries: exact and approximate (IVF) top-k, ranks, recall and its cost.

Every function works on L2-normalisable embeddings ``(N, D)`` from any model (``mmlens.evaluate.encode_images``
and ``encode_texts``), so text->image, image->text and image->image search are one operation: score a query
against every gallery row by cosine similarity and keep the best ``k``.

>>> import torch
>>> from mmlens.retrieval import ExactIndex, IVFIndex
>>> gallery = torch.randn(1000, 16)
>>> exact = ExactIndex(gallery)
>>> ivf = IVFIndex(gallery, n_lists=32, seed=0)
>>> scores, ids = ivf.search(gallery[:5], k=3, nprobe=4)   # (5, 3), (5, 3)

Recall@K of paired embeddings (image ``i`` goes with caption ``i``) is :func:`mmlens.evaluate.retrieval_recall`;
here are the pieces around it: per-query ranks (for the best and worst queries), the "caption-true" recall that
counts any scene the caption correctly describes, and the cost of search as the gallery grows.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "Gallery",
    "make_gallery",
    "cosine_scores",
    "top_k",
    "text_to_image",
    "image_to_text",
    "image_to_image",
    "match_ranks",
    "match_margins",
    "recall_from_ranks",
    "best_and_worst",
    "caption_true_hits",
    "caption_true_recall",
    "count_true_scenes",
    "kmeans",
    "ExactIndex",
    "IVFIndex",
    "index_recall",
    "time_per_query",
    "make_noisy_gallery",
    "search_cost",
]


# ---------------------------------------------------------------------------------------------------------------
# A gallery of scenes, captions and their embeddings


@dataclass
class Gallery:
    """Scenes with one caption each, their images and both embeddings (row ``i`` of each goes together)."""

    scenes: list
    captions: list[str]
    images: np.ndarray  # (N, H, W, 3) uint8, for figures
    image_emb: torch.Tensor  # (N, D), L2-normalised
    text_emb: torch.Tensor  # (N, D), L2-normalised

    def __len__(self) -> int:
        return len(self.scenes)


def make_gallery(
    model: torch.nn.Module,
    preprocess: Callable,
    tokenizer: Callable,
    n: int = 1000,
    seed: int = 0,
    split: str = "test",
    n_objects: int | tuple[int, int] = (2, 4),
    caption_kind: str | None = "objects",
    resolution: int = 64,
) -> Gallery:
    """Render ``n`` synthetic scenes, caption each once and embed both with ``model``.

    :func:`mmlens.evaluate.scene_retrieval` (the recalls in the shipped metrics) is
    ``retrieval_recall(g.image_emb, g.text_emb)`` on this gallery.

    Args:
        model, preprocess, tokenizer: from :func:`mmlens.load_model`.
        n: number of scenes.
        seed, split, n_objects: which scenes (:func:`mmlens.data.make_scenes`).
        caption_kind: kind for :func:`mmlens.data.make_caption`, ``None`` for a random kind per scene.
        resolution: rendering size; ``preprocess`` then resizes to the model's input size.

    Returns:
        A :class:`Gallery`.
    """
    from mmlens import data
    from mmlens.evaluate import encode_images, encode_texts

    if n < 1:
        raise ValueError(f"n must be a positive number of scenes, got {n}")
    scenes = data.make_scenes(n, seed=seed, n_objects=n_objects, split=split)
    rng = np.random.default_rng(seed)
    captions = [data.make_caption(s, rng, kind=caption_kind) for s in scenes]
    rendered = [data.render_scene(s, resolution=resolution) for s in scenes]
    pixels = torch.stack([preprocess(r.pil()) for r in rendered])  # (N, 3, H, W)
    return Gallery(
        scenes=scenes,
        captions=captions,
        images=np.stack([r.image for r in rendered]),
        image_emb=encode_images(model, pixels),
        text_emb=encode_texts(model, tokenizer, captions),
    )


# ---------------------------------------------------------------------------------------------------------------
# Exact search


def _as_2d(x, name: str) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f"{name} must be (N, D) embeddings, got shape {tuple(x.shape)}")
    return x.float()


def _check_k(k: int, n: int) -> int:
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if k > n:
        raise ValueError(f"k={k} is larger than the gallery ({n} items); use k <= {n}")
    return int(k)


def cosine_scores(queries, gallery) -> torch.Tensor:
    """Cosine similarity of every query with every gallery item: ``(Q, D), (N, D) -> (Q, N)``."""
    q, g = _as_2d(queries, "queries"), _as_2d(gallery, "gallery")
    if q.shape[1] != g.shape[1]:
        raise ValueError(f"queries have width {q.shape[1]} but the gallery has width {g.shape[1]}; embed both "
                         "with the same model")
    return F.normalize(q, dim=-1) @ F.normalize(g, dim=-1).T


def top_k(scores: torch.Tensor, k: int, exclude: torch.Tensor | None = None,
          stable: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` best gallery items per row of ``scores (Q, N)``; ``exclude (Q,)`` drops one item per row.

    Args:
        scores: ``(Q, N)`` similarities.
        k: results per row.
        exclude: optional ``(Q,)`` gallery index to skip per row.
        stable: ties go to the lower index (a full sort); ``False`` uses the faster ``torch.topk``, whose
            order among exactly equal scores is up to the backend.

    Returns:
        ``(scores (Q, k), indices (Q, k))``, best first.
    """
    if scores.ndim != 2:
        raise ValueError(f"scores must be (Q, N), got shape {tuple(scores.shape)}")
    n = scores.shape[1] - (exclude is not None)
    k = _check_k(k, n)
    if exclude is not None:
        scores = scores.clone()
        scores[torch.arange(len(scores)), exclude] = -torch.inf
    if not stable:
        return torch.topk(scores, k, dim=1)
    # stable sort: equal scores keep gallery order, so results do not depend on the backend
    order = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :k]
    return scores.gather(1, order), order


def text_to_image(text_emb, image_emb, k: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` images for each caption: ``(scores (Q, k), image indices (Q, k))``."""
    return top_k(cosine_scores(text_emb, image_emb), k)


def image_to_text(image_emb, text_emb, k: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` captions for each image: ``(scores (Q, k), caption indices (Q, k))``."""
    return top_k(cosine_scores(image_emb, text_emb), k)


def image_to_image(query_emb, gallery_emb, k: int = 10, exclude_self: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` gallery images for each query image.

    Args:
        query_emb: ``(Q, D)``.
        gallery_emb: ``(N, D)``.
        k: results per query.
        exclude_self: queries are gallery rows ``0..Q-1`` (e.g. ``query_emb = gallery_emb[:Q]``); skip each
            query's own row, which would otherwise always come first.
    """
    scores = cosine_scores(query_emb, gallery_emb)
    exclude = torch.arange(len(scores)) if exclude_self else None
    if exclude_self and len(scores) > scores.shape[1]:
        raise ValueError(f"exclude_self needs the {len(scores)} queries to be the first rows of the gallery, "
                         f"which has only {scores.shape[1]}")
    return top_k(scores, k, exclude)


# ---------------------------------------------------------------------------------------------------------------
# Ranks and recall


def match_ranks(query_emb, gallery_emb, true_index: Sequence[int] | torch.Tensor | None = None) -> torch.Tensor:
    """0-based rank of each query's true match: how many gallery items score *strictly* higher.

    Ties count in the query's favour, the convention of :func:`mmlens.evaluate.retrieval_recall`, so
    ``(match_ranks(t, i) < k).float().mean()`` equals its ``text_to_image@k``.

    Args:
        query_emb: ``(Q, D)``.
        gallery_emb: ``(N, D)``.
        true_index: gallery index of each query's match; default ``0..Q-1`` (paired data).

    Returns:
        LongTensor ``(Q,)``.
    """
    scores = cosine_scores(query_emb, gallery_emb)
    if true_index is None:
        if len(scores) > scores.shape[1]:
            raise ValueError(f"{len(scores)} queries but only {scores.shape[1]} gallery items; pass true_index")
        true_index = torch.arange(len(scores))
    true_index = torch.as_tensor(true_index, dtype=torch.long)
    if true_index.shape != (len(scores),):
        raise ValueError(f"true_index must hold one gallery index per query ({len(scores)}), "
                         f"got shape {tuple(true_index.shape)}")
    true = scores.gather(1, true_index[:, None])  # (Q, 1)
    return (scores > true).sum(dim=1)


def match_margins(query_emb, gallery_emb, true_index: Sequence[int] | torch.Tensor | None = None) -> torch.Tensor:
    """Score of each query's true match minus the best score of any other gallery item: ``(Q,)``.

    Positive: the true match is first with room to spare; negative: something else wins by that much.
    """
    scores = cosine_scores(query_emb, gallery_emb)
    true_index = torch.arange(len(scores)) if true_index is None else torch.as_tensor(true_index, dtype=torch.long)
    if true_index.shape != (len(scores),):
        raise ValueError(f"true_index must hold one gallery index per query ({len(scores)}), "
                         f"got shape {tuple(true_index.shape)}")
    true = scores.gather(1, true_index[:, None]).squeeze(1)  # (Q,)
    others = scores.scatter(1, true_index[:, None], -torch.inf)
    return true - others.max(dim=1).values


def recall_from_ranks(ranks: torch.Tensor, ks: Sequence[int] = (1, 5, 10)) -> dict[int, float]:
    """``{k: fraction of queries whose rank is below k}`` from 0-based ranks."""
    if any(int(k) < 1 for k in ks):
        raise ValueError(f"every k must be >= 1, got {list(ks)}")
    ranks = torch.as_tensor(ranks)
    return {int(k): (ranks < int(k)).float().mean().item() for k in ks}


def best_and_worst(ranks: torch.Tensor, n: int = 4, margins: torch.Tensor | None = None) -> tuple[list[int], list[int]]:
    """Indices of the ``n`` best and ``n`` worst queries by the rank of their true match.

    Args:
        ranks: ``(Q,)`` 0-based ranks (:func:`match_ranks`).
        n: how many of each.
        margins: optional ``(Q,)`` tie-breaker, larger is better (e.g. true score minus best other score).

    Returns:
        ``(best, worst)``: best first in ``best``, worst first in ``worst``.
    """
    ranks = torch.as_tensor(ranks)
    if not 1 <= n <= len(ranks):
        raise ValueError(f"n must be between 1 and the number of queries ({len(ranks)}), got {n}")
    key = ranks.double()
    if margins is not None:
        margins = torch.as_tensor(margins).double()
        key = key - torch.sigmoid(margins)  # in (0, 1): orders within a rank, never across ranks
    order = torch.sort(key, stable=True).indices.tolist()
    return order[:n], order[::-1][:n]


def caption_true_hits(captions: Sequence[str], scenes: Sequence, indices: torch.Tensor, direction: str,
                      queries: Sequence[int] | None = None) -> torch.Tensor:
    """For retrieved results, is the query caption true of the retrieved scene (or vice versa)?

    Args:
        captions: caption ``i`` of gallery item ``i``.
        scenes: scene ``i`` of gallery item ``i``.
        indices: ``(Q, k)`` retrieved indices.
        direction: ``"text_to_image"`` (query caption vs retrieved scenes) or ``"image_to_text"`` (retrieved
            captions vs query scene).
        queries: gallery index of each query row; default ``0..Q-1``.

    Returns:
        BoolTensor ``(Q, k)``.
    """
    from mmlens.data.checker import evaluate_caption
    from mmlens.data.grammar import parse_caption

    if direction not in ("text_to_image", "image_to_text"):
        raise ValueError(f"direction must be 'text_to_image' or 'image_to_text', got {direction!r}")
    if len(captions) != len(scenes):
        raise ValueError(f"got {len(captions)} captions but {len(scenes)} scenes; pass one caption per scene")
    queries = list(range(len(indices))) if queries is None else [int(q) for q in queries]
    if len(queries) != len(indices):
        raise ValueError(f"got {len(queries)} query indices for {len(indices)} rows of results")
    parsed = {}

    def parse(i: int):
        if i not in parsed:
            parsed[i] = parse_caption(captions[i])
        return parsed[i]

    hits = torch.zeros(indices.shape, dtype=torch.bool)
    for row_index, (q, row) in enumerate(zip(queries, indices.tolist())):
        for r, j in enumerate(row):
            caption, scene = (q, j) if direction == "text_to_image" else (j, q)
            hits[row_index, r] = evaluate_caption(parse(caption), scenes[scene])
    return hits


def caption_true_recall(gallery: Gallery, ks: Sequence[int] = (1, 5, 10)) -> dict:
    """Recall@K where a result counts when the caption is *true* of the scene, not only the paired one.

    Text->image: caption ``q`` hits at K if any of its top-K images shows a scene the caption describes.
    Image->text: image ``q`` hits at K if any of its top-K captions is true of its scene. Every paired
    match is true, so this recall is never below the strict one of :func:`mmlens.evaluate.retrieval_recall`.

    Returns:
        ``{"text_to_image@1": float, ..., "image_to_text@1": float, ...}``, the keys of ``retrieval_recall``.
    """
    k_max = max(int(k) for k in ks)
    if any(int(k) < 1 for k in ks):
        raise ValueError(f"every k must be >= 1, got {list(ks)}")
    out = {}
    searches = {
        "text_to_image": text_to_image(gallery.text_emb, gallery.image_emb, k_max)[1],
        "image_to_text": image_to_text(gallery.image_emb, gallery.text_emb, k_max)[1],
    }
    for direction, indices in searches.items():
        hits = caption_true_hits(gallery.captions, gallery.scenes, indices, direction)  # (Q, k_max)
        first = hits.cumsum(dim=1) > 0  # (Q, k_max): a true result within the first r + 1
        for k in ks:
            out[f"{direction}@{int(k)}"] = first[:, int(k) - 1].float().mean().item()
    return out


def count_true_scenes(captions: Sequence[str], scenes: Sequence) -> torch.Tensor:
    """How many of ``scenes`` each caption is true of: LongTensor ``(len(captions),)``."""
    from mmlens.data.checker import evaluate_caption
    from mmlens.data.grammar import parse_caption

    parsed = [parse_caption(c) for c in captions]
    return torch.tensor([sum(evaluate_caption(p, s) for s in scenes) for p in parsed])


# ---------------------------------------------------------------------------------------------------------------
# Indexes


def kmeans(x: torch.Tensor, n_clusters: int, n_iter: int = 10, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Spherical k-means: unit centroids that maximise cosine similarity to their members.

    Args:
        x: ``(N, D)`` points (normalised here).
        n_clusters: number of centroids (at most N).
        n_iter: Lloyd iterations.
        seed: which points start as centroids.

    Returns:
        ``(centroids (n_clusters, D), assignment (N,))``.
    """
    x = F.normalize(_as_2d(x, "x"), dim=-1)
    if not 1 <= n_clusters <= len(x):
        raise ValueError(f"n_clusters must be between 1 and the number of points ({len(x)}), got {n_clusters}")
    gen = torch.Generator().manual_seed(seed)
    centroids = x[torch.randperm(len(x), generator=gen)[:n_clusters]].clone()  # (C, D)
    for _ in range(n_iter):
        assignment = (x @ centroids.T).argmax(dim=1)  # (N,)
        sums = torch.zeros_like(centroids).index_add_(0, assignment, x)  # (C, D)
        empty = sums.norm(dim=1) == 0
        # an empty cluster keeps its old centroid rather than dying
        centroids = torch.where(empty[:, None], centroids, F.normalize(sums, dim=-1))
    return centroids, (x @ centroids.T).argmax(dim=1)


class ExactIndex:
    """Brute force: score the query against every gallery vector. Always right; cost grows with N."""

    def __init__(self, gallery):
        self.vectors = F.normalize(_as_2d(gallery, "gallery"), dim=-1)  # (N, D)

    def __len__(self) -> int:
        return len(self.vectors)

    def search(self, queries, k: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
        """``(scores (Q, k), indices (Q, k))`` of the ``k`` most similar gallery vectors."""
        queries = F.normalize(_as_2d(queries, "queries"), dim=-1)
        return top_k(queries @ self.vectors.T, k, stable=False)

    def vectors_scored(self, queries=None) -> float:
        """Dot products per query: the whole gallery, whatever the query."""
        return float(len(self.vectors))


class IVFIndex:
    """An inverted-file index: k-means cells, search only the ``nprobe`` cells nearest the query.

    Building: k-means on (a sample of) the gallery gives ``n_lists`` centroids; each vector is stored in the
    list of its nearest centroid. Searching: score the query against the centroids, open the ``nprobe`` best
    lists and score only their members. Results can miss a true neighbour that sits in an unopened cell,
    which is the price of scoring ``n_lists + N * nprobe / n_lists`` vectors instead of ``N``.

    Args:
        gallery: ``(N, D)`` vectors.
        n_lists: number of cells; around ``sqrt(N)`` is the usual choice.
        n_iter: k-means iterations.
        train_size: k-means runs on at most this many randomly chosen vectors (all vectors are then assigned).
        seed: seed of the sample and the k-means start.
    """

    def __init__(self, gallery, n_lists: int, n_iter: int = 10, train_size: int | None = None, seed: int = 0):
        self.vectors = F.normalize(_as_2d(gallery, "gallery"), dim=-1)  # (N, D)
        n = len(self.vectors)
        if not 1 <= n_lists <= n:
            raise ValueError(f"n_lists must be between 1 and the gallery size ({n}), got {n_lists}")
        sample = self.vectors
        if train_size is not None and train_size < n:
            if train_size < n_lists:
                raise ValueError(f"train_size={train_size} is smaller than n_lists={n_lists}; train on more vectors")
            gen = torch.Generator().manual_seed(seed + 1)
            sample = self.vectors[torch.randperm(n, generator=gen)[:train_size]]
        self.centroids, _ = kmeans(sample, n_lists, n_iter, seed)  # (L, D)
        assignment = (self.vectors @ self.centroids.T).argmax(dim=1)  # (N,)
        # store the vectors grouped by list: list l is order[offsets[l]:offsets[l + 1]]
        self.order = torch.argsort(assignment, stable=True)  # (N,) gallery ids, list by list
        counts = torch.bincount(assignment, minlength=n_lists)  # (L,)
        self.offsets = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])  # (L + 1,)
        self.list_sizes = counts
        self.grouped = self.vectors[self.order]  # (N, D): list l is rows offsets[l]:offsets[l + 1]
        self._bounds = list(zip(self.offsets[:-1].tolist(), self.offsets[1:].tolist()))

    @property
    def n_lists(self) -> int:
        return len(self.centroids)

    def __len__(self) -> int:
        return len(self.vectors)

    def probe(self, queries, nprobe: int = 1) -> torch.Tensor:
        """The ``nprobe`` lists whose centroids are most similar to each query: ``(Q, nprobe)``."""
        if not 1 <= nprobe <= self.n_lists:
            raise ValueError(f"nprobe must be between 1 and n_lists ({self.n_lists}), got {nprobe}")
        return top_k(cosine_scores(queries, self.centroids), nprobe, stable=False)[1]

    def search(self, queries, k: int = 10, nprobe: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """``(scores (Q, k), indices (Q, k))`` among the members of the ``nprobe`` probed lists.

        When the probed lists hold fewer than ``k`` vectors, the missing results have score ``-inf`` and
        index ``-1``.
        """
        queries = F.normalize(_as_2d(queries, "queries"), dim=-1)
        _check_k(k, len(self.vectors))
        lists = self.probe(queries, nprobe)  # (Q, nprobe)
        if len(queries) == 1:  # one query: score the opened lists' contiguous rows, nothing else
            spans = [self._bounds[l] for l in lists[0].tolist()]
            scores = torch.cat([self.grouped[a:b] @ queries[0] for a, b in spans])  # (n_candidates,)
            ids = torch.cat([self.order[a:b] for a, b in spans])
            scores, ids = scores[None], ids[None]
        else:
            width = int(self.list_sizes.max())
            scores = torch.full((len(queries), nprobe, width), -torch.inf)  # (Q, nprobe, W)
            ids = torch.full((len(queries), nprobe, width), -1, dtype=torch.long)
            # loop over lists, not queries: each opened list is read once for all the queries that probe it
            for l in torch.unique(lists).tolist():
                rows, slots = torch.nonzero(lists == l, as_tuple=True)  # queries probing l, at which rank
                a, b = self._bounds[l]
                scores[rows, slots, : b - a] = queries[rows] @ self.grouped[a:b].T  # (q_l, size)
                ids[rows, slots, : b - a] = self.order[a:b]
            scores, ids = scores.flatten(1), ids.flatten(1)  # (Q, nprobe * W)
        m = min(k, scores.shape[1])
        top, best = torch.topk(scores, m, dim=1)  # (Q, m)
        found = ids.gather(1, best).masked_fill(torch.isinf(top), -1)
        return F.pad(top, (0, k - m), value=-torch.inf), F.pad(found, (0, k - m), value=-1)

    def vectors_scored(self, queries, nprobe: int = 1) -> float:
        """Mean dot products per query: the ``n_lists`` centroids plus the members of the probed lists."""
        lists = self.probe(queries, nprobe)  # (Q, nprobe)
        return float(self.n_lists + self.list_sizes[lists].sum(dim=1).double().mean())


def index_recall(approx_ids: torch.Tensor, exact_ids: torch.Tensor) -> float:
    """Share of the exact top-k neighbours that the approximate search also returned (recall@k vs exact)."""
    if approx_ids.shape != exact_ids.shape:
        raise ValueError(f"approx_ids {tuple(approx_ids.shape)} and exact_ids {tuple(exact_ids.shape)} must both "
                         "be (Q, k)")
    found = (approx_ids[:, :, None] == exact_ids[:, None, :]).any(dim=1)  # (Q, k): exact neighbour found
    return found.float().mean().item()


# ---------------------------------------------------------------------------------------------------------------
# Cost as the gallery grows


def time_per_query(search: Callable, queries: torch.Tensor, repeats: int = 3, threads: int | None = 1) -> float:
    """Median wall-clock seconds per query, searching one query at a time (as a search engine would).

    Args:
        search: callable taking a ``(1, D)`` query.
        queries: ``(Q, D)``; each is searched once per repeat.
        repeats: the median over repeats of the mean time per query is returned.
        threads: torch threads while timing (restored afterwards). One thread measures the work itself: a
            single small query gains nothing from more, and on a busy machine extra threads mostly wait.
    """
    queries = _as_2d(queries, "queries")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        search(queries[:1])  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            for q in range(len(queries)):
                search(queries[q : q + 1])
            times.append((time.perf_counter() - start) / len(queries))
    finally:
        torch.set_num_threads(previous)
    return float(np.median(times))


def make_noisy_gallery(embeddings, n: int, noise: float = 0.5, seed: int = 0) -> torch.Tensor:
    """``n`` unit vectors scattered around real embeddings, to measure search cost beyond what we can encode.

    Each new vector is a randomly chosen row of ``embeddings`` plus Gaussian noise whose norm is about
    ``noise`` (per coordinate ``noise / sqrt(D)``), normalised again; the rows of ``embeddings`` come first.
    The cost of search depends only on ``(N, D)``; the noise keeps the gallery clustered like real data.
    """
    base = F.normalize(_as_2d(embeddings, "embeddings"), dim=-1)
    if n < len(base):
        raise ValueError(f"n={n} is smaller than the {len(base)} real embeddings; ask for at least that many")
    gen = torch.Generator().manual_seed(seed)
    m, d = n - len(base), base.shape[1]
    picks = torch.randint(len(base), (m,), generator=gen)
    extra = base[picks] + noise / d**0.5 * torch.randn(m, d, generator=gen)
    return torch.cat([base, F.normalize(extra, dim=-1)])


@dataclass
class SearchCost:
    """Measured cost of exact and IVF search per gallery size (seconds are wall clock, per query)."""

    sizes: list[int]
    exact_seconds: list[float] = field(default_factory=list)
    ivf_seconds: list[float] = field(default_factory=list)
    exact_scored: list[float] = field(default_factory=list)
    ivf_scored: list[float] = field(default_factory=list)
    ivf_recall: list[float] = field(default_factory=list)
    n_lists: list[int] = field(default_factory=list)
    nprobe: int = 1
    k: int = 10


def search_cost(
    gallery: torch.Tensor,
    queries: torch.Tensor,
    sizes: Sequence[int],
    nprobe: int = 8,
    k: int = 10,
    lists_per_sqrt: float = 1.0,
    train_size: int | None = 20_000,
    repeats: int = 3,
    seed: int = 0,
) -> SearchCost:
    """Time exact and IVF search on the first ``n`` gallery rows for each ``n`` in ``sizes``.

    Args:
        gallery: ``(N, D)`` with ``N >= max(sizes)`` (e.g. :func:`make_noisy_gallery`).
        queries: ``(Q, D)`` query vectors.
        sizes: gallery sizes to measure.
        nprobe: lists opened per IVF query.
        k: results per query.
        lists_per_sqrt: ``n_lists = round(lists_per_sqrt * sqrt(n))``.
        train_size: k-means sample size (see :class:`IVFIndex`).
        repeats: timing repeats (:func:`time_per_query`).
        seed: IVF seed.

    Returns:
        A :class:`SearchCost`; ``ivf_recall`` is :func:`index_recall` against exact search.
    """
    gallery = _as_2d(gallery, "gallery")
    if max(sizes) > len(gallery):
        raise ValueError(f"largest size {max(sizes)} exceeds the gallery ({len(gallery)} vectors)")
    cost = SearchCost(sizes=[int(n) for n in sizes], nprobe=nprobe, k=k)
    for n in cost.sizes:
        exact = ExactIndex(gallery[:n])
        n_lists = max(1, round(lists_per_sqrt * n**0.5))
        ivf = IVFIndex(gallery[:n], n_lists=n_lists, train_size=train_size, seed=seed)
        probe = min(nprobe, n_lists)
        cost.n_lists.append(n_lists)
        cost.exact_seconds.append(time_per_query(lambda q: exact.search(q, k), queries, repeats))
        cost.ivf_seconds.append(time_per_query(lambda q: ivf.search(q, k, probe), queries, repeats))
        cost.exact_scored.append(exact.vectors_scored(queries))
        cost.ivf_scored.append(ivf.vectors_scored(queries, probe))
        cost.ivf_recall.append(index_recall(ivf.search(queries, k, probe)[1], exact.search(queries, k)[1]))
    return cost
