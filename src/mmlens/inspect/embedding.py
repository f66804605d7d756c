"""Looking at an embedding space: the modality gap, alignment and uniformity, projections, neighbours, CKA.

Every function takes embeddings as a torch tensor or a numpy array of shape ``(N, D)``.
Scalars come back as Python floats, matrices as torch tensors, 2-D projections (made to be
plotted) as numpy arrays.

>>> import torch
>>> from mmlens.inspect.embedding import modality_gap, linear_cka
>>> image_emb = torch.randn(100, 64)
>>> modality_gap(image_emb, image_emb)
0.0
>>> round(linear_cka(image_emb, 3 * image_emb), 6)
1.0

References: Liang et al. 2022 (modality gap), Wang & Isola 2020 (alignment and uniformity),
Kornblith et al. 2019 (linear CKA).
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "modality_gap",
    "modality_gap_vector",
    "modality_separability",
    "alignment",
    "uniformity",
    "PCAResult",
    "pca",
    "project_2d",
    "similarity_matrix",
    "nearest_neighbours",
    "linear_cka",
    "cka_matrix",
]


def _as_tensor(x, name: str, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """A 2-D float tensor on the CPU from a tensor or array; raises with the shape that was wrong."""
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu()
    else:
        try:
            t = torch.as_tensor(np.asarray(x))
        except (TypeError, ValueError) as e:
            raise TypeError(f"{name} must be a tensor or array of shape (N, D), got {type(x).__name__}") from e
    if t.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D), got shape {tuple(t.shape)}; flatten or stack it first")
    if t.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(t.shape)}); pass at least one row")
    return t.to(dtype)


def _same_dim(a: torch.Tensor, b: torch.Tensor, names: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{names} have different widths {a.shape[1]} and {b.shape[1]}; embed both into the same space")


# ---------------------------------------------------------------------------------------------------------------
# The modality gap


def modality_gap_vector(image_emb, text_emb, normalize: bool = True) -> torch.Tensor:
    """Difference of centroids, ``mean(image_emb) - mean(text_emb)``, shape ``(D,)``.

    Args:
        image_emb: ``(N, D)`` image embeddings.
        text_emb: ``(M, D)`` text embeddings (need not be paired with the images).
        normalize: put every embedding on the unit sphere first, as CLIP does before the dot product.
    """
    return _gap_vector(image_emb, text_emb, normalize).float()


def _gap_vector(image_emb, text_emb, normalize: bool) -> torch.Tensor:
    image_emb, text_emb = _as_tensor(image_emb, "image_emb"), _as_tensor(text_emb, "text_emb")
    _same_dim(image_emb, text_emb, "image_emb and text_emb")
    if normalize:
        image_emb, text_emb = F.normalize(image_emb, dim=-1), F.normalize(text_emb, dim=-1)
    return image_emb.mean(0) - text_emb.mean(0)  # (D,) float64


def modality_gap(image_emb, text_emb, normalize: bool = True) -> float:
    """The modality gap (Liang et al. 2022): Euclidean distance between the image and text centroids.

    0 when both modalities share a centroid; at most 2 for unit-normalised embeddings.

    Args:
        image_emb: ``(N, D)`` image embeddings.
        text_emb: ``(M, D)`` text embeddings.
        normalize: L2-normalise each embedding first (default, as CLIP compares cosines).
    """
    return float(_gap_vector(image_emb, text_emb, normalize).norm())


def modality_separability(
    image_emb, text_emb, test_fraction: float = 0.3, seed: int = 0, normalize: bool = True
) -> float:
    """How well a linear classifier tells image from text embeddings, on held-out points.

    Fits a logistic regression on a random ``1 - test_fraction`` share of the points (labels 0 = image,
    1 = text) and returns its accuracy on the rest: about 0.5 when the two modalities are mixed,
    1.0 when they live in separate regions (a modality gap).

    Args:
        image_emb: ``(N, D)`` image embeddings.
        text_emb: ``(M, D)`` text embeddings.
        test_fraction: share of points held out for measuring accuracy, in (0, 1).
        seed: seed of the split and of the classifier.
        normalize: L2-normalise each embedding first.

    Returns:
        Test accuracy in [0, 1].
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    image_emb, text_emb = _as_tensor(image_emb, "image_emb"), _as_tensor(text_emb, "text_emb")
    _same_dim(image_emb, text_emb, "image_emb and text_emb")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if min(len(image_emb), len(text_emb)) < 4:
        raise ValueError(
            f"need at least 4 embeddings per modality to split, got {len(image_emb)} images and {len(text_emb)} texts"
        )
    if normalize:
        image_emb, text_emb = F.normalize(image_emb, dim=-1), F.normalize(text_emb, dim=-1)
    x = torch.cat([image_emb, text_emb]).numpy()
    y = np.r_[np.zeros(len(image_emb), int), np.ones(len(text_emb), int)]
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=test_fraction, random_state=seed, stratify=y)
    # Standardise: unit vectors have small coordinates, and a gap of any size should count.
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, random_state=seed)).fit(x_train, y_train)
    return float(clf.score(x_test, y_test))


# ---------------------------------------------------------------------------------------------------------------
# Alignment and uniformity (Wang & Isola 2020)


def alignment(x, y, alpha: float = 2.0, normalize: bool = True) -> float:
    """Alignment: mean ``||x_i - y_i||^alpha`` over matched pairs; 0 when every pair coincides, lower is better.

    Args:
        x: ``(N, D)`` embeddings, e.g. images.
        y: ``(N, D)`` their partners, e.g. the matching captions (row i goes with row i).
        alpha: exponent of the distance (2 in the paper).
        normalize: L2-normalise each embedding first.
    """
    x, y = _as_tensor(x, "x"), _as_tensor(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must be matched pairs of the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if alpha <= 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    if normalize:
        x, y = F.normalize(x, dim=-1), F.normalize(y, dim=-1)
    return float((x - y).norm(dim=1).pow(alpha).mean())


def uniformity(x, t: float = 2.0, normalize: bool = True) -> float:
    """Uniformity: ``log mean_{i<j} exp(-t ||x_i - x_j||^2)``; more negative = more evenly spread on the sphere.

    Args:
        x: ``(N, D)`` embeddings, N >= 2.
        t: temperature of the Gaussian kernel (2 in the paper).
        normalize: L2-normalise each embedding first.
    """
    x = _as_tensor(x, "x")
    if len(x) < 2:
        raise ValueError(f"uniformity needs at least 2 points, got {len(x)}")
    if t <= 0:
        raise ValueError(f"t must be positive, got {t}")
    if normalize:
        x = F.normalize(x, dim=-1)
    sq_dists = torch.pdist(x).pow(2)  # (N (N - 1) / 2,) distinct pairs
    return float(torch.logsumexp(-t * sq_dists, dim=0) - np.log(len(sq_dists)))


# ---------------------------------------------------------------------------------------------------------------
# Projections to 2-D


class PCAResult(NamedTuple):
    """Output of :func:`pca`."""

    coords: np.ndarray  # (N, k) points in the principal axes
    components: np.ndarray  # (k, D) principal directions, unit rows
    mean: np.ndarray  # (D,) the centre that was subtracted
    explained_variance_ratio: np.ndarray  # (k,) share of the total variance along each axis


def pca(x, n_components: int = 2) -> PCAResult:
    """Principal component analysis by SVD of the centred data (deterministic: signs fixed so each axis's
    largest-magnitude loading is positive).

    Args:
        x: ``(N, D)`` points.
        n_components: number of axes to keep, at most ``min(N, D)``.
    """
    x = _as_tensor(x, "x")
    if not 1 <= n_components <= min(x.shape):
        raise ValueError(f"n_components must be between 1 and min(N, D) = {min(x.shape)}, got {n_components}")
    mean = x.mean(0)
    centred = x - mean
    _, s, vh = torch.linalg.svd(centred, full_matrices=False)  # vh: (min(N, D), D)
    vh = vh[:n_components]
    signs = torch.sign(vh.gather(1, vh.abs().argmax(1, keepdim=True)))  # (k, 1)
    vh = vh * signs
    total = s.pow(2).sum()
    ratio = s[:n_components].pow(2) / total if total > 0 else torch.zeros(n_components, dtype=s.dtype)
    return PCAResult((centred @ vh.T).numpy(), vh.numpy(), mean.numpy(), ratio.numpy())


def project_2d(x, method: str = "pca", seed: int = 0, perplexity: float | None = None) -> np.ndarray:
    """Project points to 2-D for a scatter plot.

    Project image and text embeddings *together* (``torch.cat``) so they share one map.

    Args:
        x: ``(N, D)`` points.
        method: ``"pca"`` (linear, keeps distances along the top two axes) or ``"tsne"`` (sklearn's t-SNE,
            keeps neighbourhoods, distorts distances).
        seed: random state of t-SNE (PCA needs none); same seed, same picture.
        perplexity: t-SNE's neighbourhood size; default ``min(30, (N - 1) / 3)``.

    Returns:
        ``(N, 2)`` numpy array.
    """
    if method == "pca":
        return pca(x, 2).coords
    if method != "tsne":
        raise ValueError(f"unknown projection method {method!r}; use 'pca' or 'tsne'")
    from sklearn.manifold import TSNE

    x = _as_tensor(x, "x")
    if len(x) < 4:
        raise ValueError(f"t-SNE needs at least 4 points, got {len(x)}; use method='pca'")
    if perplexity is None:
        perplexity = min(30.0, (len(x) - 1) / 3)
    if not 0 < perplexity < len(x):
        raise ValueError(f"perplexity must be in (0, N={len(x)}), got {perplexity}")
    from threadpoolctl import threadpool_limits

    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed, learning_rate="auto")
    with threadpool_limits(limits=1):  # one thread: same result everywhere, and far faster on a busy 2-core CPU
        return tsne.fit_transform(x.numpy()).astype(np.float64)


# ---------------------------------------------------------------------------------------------------------------
# Similarities and neighbours


def similarity_matrix(a, b=None, normalize: bool = True) -> torch.Tensor:
    """All pairwise similarities ``a @ b.T``, shape ``(N, M)``: cosines when ``normalize`` (default).

    Args:
        a: ``(N, D)`` embeddings (rows of the matrix), e.g. images.
        b: ``(M, D)`` embeddings (columns), e.g. captions; ``None`` compares ``a`` with itself.
        normalize: L2-normalise rows first.
    """
    a = _as_tensor(a, "a", torch.float32)
    b = a if b is None else _as_tensor(b, "b", torch.float32)
    _same_dim(a, b, "a and b")
    if normalize:
        a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    return a @ b.T


def nearest_neighbours(
    queries, keys=None, k: int = 5, metric: str = "cosine", exclude_self: bool | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` keys closest to each query, best first.

    Args:
        queries: ``(N, D)`` embeddings.
        keys: ``(M, D)`` embeddings searched; ``None`` searches the queries themselves.
        k: neighbours per query.
        metric: ``"cosine"`` (higher = closer) or ``"euclidean"`` (scores are distances, lower = closer).
        exclude_self: skip the diagonal (a point is its own nearest neighbour); defaults to ``keys is None``.

    Returns:
        ``(indices, scores)``, both ``(N, k)``: row i lists key indices and their similarity (cosine) or
        distance (euclidean).
    """
    queries = _as_tensor(queries, "queries", torch.float32)
    self_search = keys is None
    keys = queries if self_search else _as_tensor(keys, "keys", torch.float32)
    _same_dim(queries, keys, "queries and keys")
    exclude_self = self_search if exclude_self is None else exclude_self
    if exclude_self and queries.shape[0] != keys.shape[0]:
        raise ValueError(f"exclude_self needs as many keys as queries, got {len(queries)} and {len(keys)}")
    n_available = len(keys) - int(exclude_self)
    if not 1 <= k <= n_available:
        raise ValueError(f"k must be between 1 and {n_available} (the number of candidate keys), got {k}")
    if metric == "cosine":
        scores = similarity_matrix(queries, keys)  # (N, M), higher is closer
        largest = True
    elif metric == "euclidean":
        scores = torch.cdist(queries, keys)  # (N, M), lower is closer
        largest = False
    else:
        raise ValueError(f"unknown metric {metric!r}; use 'cosine' or 'euclidean'")
    if exclude_self:
        scores = scores.clone()
        scores.fill_diagonal_(float("-inf") if largest else float("inf"))
    values, indices = scores.topk(k, dim=1, largest=largest)
    return indices, values


# ---------------------------------------------------------------------------------------------------------------
# Comparing representations: linear CKA (Kornblith et al. 2019)


def linear_cka(x, y) -> float:
    """Linear centred kernel alignment between two representations of the same N inputs.

    ``CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)`` on column-centred X and Y. 1 for representations
    that differ by an orthogonal transform and an isotropic scale; near 0 for unrelated ones (with N much
    larger than the widths). Widths may differ.

    Args:
        x: ``(N, D1)`` activations, row i for input i.
        y: ``(N, D2)`` activations of the same inputs in the same order.
    """
    x, y = _as_tensor(x, "x"), _as_tensor(y, "y")
    if len(x) != len(y):
        raise ValueError(f"x and y must describe the same inputs, got {len(x)} and {len(y)} rows")
    x, y = x - x.mean(0), y - y.mean(0)
    # Scale first: float64 products of large activations stay far from overflow.
    x, y = x / (x.norm() + 1e-300), y / (y.norm() + 1e-300)
    cross = (y.T @ x).pow(2).sum()
    norm_x = (x.T @ x).pow(2).sum().sqrt()
    norm_y = (y.T @ y).pow(2).sum().sqrt()
    if norm_x == 0 or norm_y == 0:
        raise ValueError("x or y is constant across inputs (zero after centring); CKA is undefined")
    return float(cross / (norm_x * norm_y))


def cka_matrix(activations: Sequence | dict, other: Sequence | dict | None = None) -> torch.Tensor:
    """Linear CKA between every pair of layers, shape ``(L1, L2)``.

    Args:
        activations: per-layer ``(N, D_l)`` activations as a list, a dict (values in order) or a tensor
            ``(L, N, D)``; tokens can be flattened beforehand (``(N, T * D)``) or pooled.
        other: a second model's layers to compare against; ``None`` compares ``activations`` with itself.
    """

    def layers(acts, name):
        if isinstance(acts, dict):
            acts = list(acts.values())
        acts = list(acts)
        if not acts:
            raise ValueError(f"{name} is empty; pass one (N, D) activation per layer")
        return [_as_tensor(a, f"{name}[{i}]") for i, a in enumerate(acts)]

    rows = layers(activations, "activations")
    cols = rows if other is None else layers(other, "other")
    out = torch.empty(len(rows), len(cols), dtype=torch.float32)
    for i, a in enumerate(rows):
        for j, b in enumerate(cols):
            if other is None and j < i:
                out[i, j] = out[j, i]
            else:
                out[i, j] = linear_cka(a, b)
    return out
