"""Checkers for *Cross-modal retrieval*."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from mmlens.exercises._check import Verdict, run_reader_function
from mmlens.retrieval import cosine_scores, match_ranks, recall_from_ranks, top_k


def check_recall_at_k(fn: Callable[[torch.Tensor, int], float]) -> Verdict:
    """Check ``fn(similarity, k) -> float``: text->image Recall@k of a ``(n_texts, n_images)`` similarity
    matrix whose true pairs lie on the diagonal."""
    gen = torch.Generator().manual_seed(0)
    for n, k in [(6, 1), (30, 5), (50, 10)]:
        image_emb = torch.randn(n, 8, generator=gen)
        text_emb = image_emb + 1.5 * torch.randn(n, 8, generator=gen)
        sim = cosine_scores(text_emb, image_emb)  # (texts, images)
        out, failure = run_reader_function(fn, sim.clone(), k)
        if failure is not None:
            return failure
        try:
            got = float(out)
        except (TypeError, ValueError):
            return Verdict(False, f"expected a number (a fraction of queries), got {type(out).__name__}")
        expected = recall_from_ranks(match_ranks(text_emb, image_emb), [k])[k]
        if abs(got - expected) > 1e-6:
            transposed = recall_from_ranks(match_ranks(image_emb, text_emb), [k])[k]
            hint = (" (that is image->text: rows are the text queries)" if abs(got - transposed) < 1e-6 else
                    ": for each row, is the diagonal entry among the k largest?")
            return Verdict(False, f"for {n} pairs and k={k} expected {expected:.3f}, got {got:.3f}{hint}")
    return Verdict(True, "your Recall@k matches mmlens on 3 similarity matrices")


def check_probe_lists(fn: Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]) -> Verdict:
    """Check ``fn(query, centroids, nprobe) -> LongTensor (nprobe,)``: the IVF lists a query opens, best first."""
    gen = torch.Generator().manual_seed(1)
    for d, n_lists, nprobe in [(4, 5, 1), (8, 20, 3), (16, 50, 7)]:
        centroids = F.normalize(torch.randn(n_lists, d, generator=gen), dim=-1)
        query = 3.0 * torch.randn(d, generator=gen)  # not normalised: cosine similarity should not care
        out, failure = run_reader_function(fn, query.clone(), centroids.clone(), nprobe)
        if failure is not None:
            return failure
        expected = top_k(cosine_scores(query, centroids), nprobe)[1][0]
        got = torch.as_tensor(out).flatten().long() if out is not None else None
        if got is None or got.shape != expected.shape:
            return Verdict(False, f"expected {nprobe} list indices for nprobe={nprobe}, got "
                                  f"{None if got is None else tuple(got.shape)}")
        if set(got.tolist()) != set(expected.tolist()):
            return Verdict(False, f"with {n_lists} lists and nprobe={nprobe} expected lists {expected.tolist()}, "
                                  f"got {got.tolist()}: open the lists whose centroids are most similar")
        if not torch.equal(got, expected):
            return Verdict(False, "right lists, wrong order: return them best first")
    return Verdict(True, "your probe opens the right lists, best first")
