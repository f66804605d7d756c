"""Tests of mmlens.retrieval: exact and IVF search, ranks, recall (strict and caption-true), search cost."""
import pytest
import torch
import torch.nn.functional as F

from mmlens import data
from mmlens.evaluate import retrieval_recall
from mmlens.retrieval import (
    ExactIndex,
    Gallery,
    IVFIndex,
    best_and_worst,
    caption_true_hits,
    caption_true_recall,
    cosine_scores,
    count_true_scenes,
    image_to_image,
    image_to_text,
    index_recall,
    kmeans,
    make_noisy_gallery,
    match_ranks,
    recall_from_ranks,
    search_cost,
    text_to_image,
    time_per_query,
    top_k,
)


@pytest.fixture(autouse=True)
def _one_thread():
    """Small problems run fastest (and steadiest on a shared machine) on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _clustered(n=600, d=16, n_centres=12, seed=0):
    gen = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(n_centres, d, generator=gen), dim=-1)
    x = centres[torch.randint(n_centres, (n,), generator=gen)] + 0.15 * torch.randn(n, d, generator=gen)
    return F.normalize(x, dim=-1)


def test_cosine_scores_ignore_norms_and_check_width():
    a, b = torch.randn(3, 5), torch.randn(4, 5)
    assert torch.allclose(cosine_scores(a, b), cosine_scores(7 * a, 0.1 * b), atol=1e-6)
    assert torch.allclose(cosine_scores(a, a).diagonal(), torch.ones(3), atol=1e-6)
    with pytest.raises(ValueError, match="width"):
        cosine_scores(torch.randn(2, 5), torch.randn(3, 6))


def test_top_k_is_brute_force_and_stable_on_ties():
    scores = torch.tensor([[0.1, 0.9, 0.5, 0.9], [0.3, 0.2, 0.1, 0.0]])
    values, ids = top_k(scores, 3)
    assert ids.tolist() == [[1, 3, 2], [0, 1, 2]]  # the tie 0.9 / 0.9 goes to the lower index
    assert torch.equal(values, scores.gather(1, ids))
    _, ids = top_k(scores, 2, exclude=torch.tensor([1, 0]))
    assert ids.tolist() == [[3, 2], [1, 2]]
    with pytest.raises(ValueError, match="larger than the gallery"):
        top_k(scores, 5)


def test_directions_and_image_to_image_exclude_self():
    image_emb, text_emb = _clustered(50), _clustered(50, seed=1)
    assert torch.equal(text_to_image(text_emb, image_emb, 5)[1], top_k(cosine_scores(text_emb, image_emb), 5)[1])
    assert torch.equal(image_to_text(image_emb, text_emb, 5)[1], top_k(cosine_scores(image_emb, text_emb), 5)[1])
    _, with_self = image_to_image(image_emb[:10], image_emb, k=3)
    assert with_self[:, 0].tolist() == list(range(10))  # each image is its own best match
    _, without = image_to_image(image_emb[:10], image_emb, k=3, exclude_self=True)
    assert not (without == torch.arange(10)[:, None]).any()
    assert torch.equal(without[:, :2], with_self[:, 1:])


def test_match_ranks_agree_with_evaluate_retrieval_recall():
    gen = torch.Generator().manual_seed(0)
    image_emb = torch.randn(80, 8, generator=gen)
    text_emb = image_emb + 1.2 * torch.randn(80, 8, generator=gen)
    expected = retrieval_recall(image_emb, text_emb, ks=(1, 5, 10))
    t2i = recall_from_ranks(match_ranks(text_emb, image_emb), (1, 5, 10))
    i2t = recall_from_ranks(match_ranks(image_emb, text_emb), (1, 5, 10))
    for k in (1, 5, 10):
        assert t2i[k] == pytest.approx(expected[f"text_to_image@{k}"])
        assert i2t[k] == pytest.approx(expected[f"image_to_text@{k}"])
    assert 0 < t2i[1] < t2i[10] < 1  # a non-trivial case


def test_match_ranks_count_strictly_higher_and_ties_favour_the_query():
    gallery = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    query = torch.tensor([[1.0, 0.0]])
    assert match_ranks(query, gallery, [1]).tolist() == [0]  # tied with item 0, counted as found
    assert match_ranks(query, gallery, [3]).tolist() == [2]
    assert match_ranks(query, gallery, [2]).tolist() == [3]
    with pytest.raises(ValueError, match="true_index"):
        match_ranks(query, gallery, [0, 1])


def test_best_and_worst_order_by_rank_then_margin():
    ranks = torch.tensor([3, 0, 0, 7, 1])
    best, worst = best_and_worst(ranks, n=2)
    assert best == [1, 2] and worst == [3, 0]
    best, _ = best_and_worst(ranks, n=2, margins=torch.tensor([0.0, 0.1, 0.5, 0.0, 0.0]))
    assert best == [2, 1]
    with pytest.raises(ValueError, match="between 1"):
        best_and_worst(ranks, n=6)


def _hand_gallery():
    def obj(shape, colour, x):
        return data.SceneObject(shape, colour, "small", x, 0.5)

    scenes = [
        data.Scene((obj("circle", "red", 0.2), obj("square", "blue", 0.8))),
        data.Scene((obj("circle", "red", 0.2), obj("star", "green", 0.8))),
        data.Scene((obj("heart", "yellow", 0.2), obj("star", "green", 0.8))),
    ]
    captions = ["a red circle", "a green star", "a yellow heart"]
    # text 0 is nearest image 1 (a wrong pair, but "a red circle" is true of scene 1 too)
    image_emb = torch.tensor([[1.0, 0.0, 0.0], [0.9, 0.1, 0.0], [0.0, 0.0, 1.0]])
    text_emb = torch.tensor([[0.9, 0.12, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    return Gallery(scenes, captions, None, F.normalize(image_emb, dim=-1), F.normalize(text_emb, dim=-1))


def test_caption_true_hits_read_the_scenes():
    g = _hand_gallery()
    hits = caption_true_hits(g.captions, g.scenes, torch.tensor([[1, 2], [2, 0], [0, 1]]), "text_to_image")
    assert hits.tolist() == [[True, False], [True, False], [False, False]]
    hits = caption_true_hits(g.captions, g.scenes, torch.tensor([[0, 1], [1, 2], [2, 0]]), "image_to_text")
    assert hits.tolist() == [[True, False], [True, False], [True, False]]
    with pytest.raises(ValueError, match="direction"):
        caption_true_hits(g.captions, g.scenes, torch.zeros(3, 1, dtype=torch.long), "sideways")


def test_caption_true_recall_is_at_least_strict_and_credits_true_captions():
    g = _hand_gallery()
    strict = retrieval_recall(g.image_emb, g.text_emb, ks=(1, 2))
    relaxed = caption_true_recall(g, ks=(1, 2))
    assert set(relaxed) == set(strict)
    assert all(relaxed[key] >= strict[key] for key in strict)
    # "a red circle" retrieves scene 1 first: wrong pair (strict miss) but a true caption (relaxed hit)
    assert strict["text_to_image@1"] == pytest.approx(2 / 3)
    assert relaxed["text_to_image@1"] == pytest.approx(1.0)
    assert count_true_scenes(g.captions, g.scenes).tolist() == [2, 2, 1]


def test_kmeans_finds_planted_clusters():
    x = _clustered(400, n_centres=4, seed=3)
    centroids, assignment = kmeans(x, 4, n_iter=20, seed=0)
    assert centroids.shape == (4, 16)
    assert torch.allclose(centroids.norm(dim=1), torch.ones(4), atol=1e-5)
    # every point is closer to its own centroid than to any other
    assert torch.equal(assignment, (x @ centroids.T).argmax(dim=1))
    assert len(torch.unique(assignment)) == 4
    with pytest.raises(ValueError, match="n_clusters"):
        kmeans(x, 0)


def test_exact_index_matches_brute_force_search():
    x = _clustered(300)
    scores, ids = ExactIndex(x).search(x[:7], k=4)
    ref_scores, _ = top_k(cosine_scores(x[:7], x), 4)
    assert torch.allclose(scores, ref_scores, atol=1e-6)
    assert ids[:, 0].tolist() == list(range(7))
    assert ExactIndex(x).vectors_scored(x[:7]) == 300


def test_ivf_with_every_list_probed_is_exact():
    x = _clustered(300)
    ivf = IVFIndex(x, n_lists=10, seed=0)
    assert int(ivf.list_sizes.sum()) == 300
    assert sorted(ivf.order.tolist()) == list(range(300))
    exact_scores, exact_ids = ExactIndex(x).search(x[:20], k=5)
    scores, ids = ivf.search(x[:20], k=5, nprobe=10)
    assert torch.allclose(scores, exact_scores, atol=1e-6)
    assert index_recall(ids, exact_ids) == 1.0
    assert ivf.vectors_scored(x[:20], nprobe=10) == 10 + 300


def test_ivf_trades_recall_for_cost_as_nprobe_shrinks():
    x = _clustered(800, n_centres=30, seed=5)
    queries = _clustered(50, n_centres=30, seed=5)[:50] + 0.01
    ivf = IVFIndex(x, n_lists=25, seed=0, train_size=400)
    exact_ids = ExactIndex(x).search(queries, k=10)[1]
    recalls = [index_recall(ivf.search(queries, 10, p)[1], exact_ids) for p in (1, 4, 25)]
    scored = [ivf.vectors_scored(queries, p) for p in (1, 4, 25)]
    assert recalls[0] <= recalls[1] <= recalls[2] == 1.0
    assert recalls[0] < 1.0
    assert scored[0] < scored[1] < scored[2] == 25 + 800
    # the probed lists are the ones whose centroids score highest
    assert torch.equal(ivf.probe(queries, 3), top_k(cosine_scores(queries, ivf.centroids), 3)[1])


def test_ivf_pads_when_probed_lists_hold_fewer_than_k():
    x = torch.cat([_clustered(5, n_centres=1, seed=1), -_clustered(50, n_centres=1, seed=1)])
    ivf = IVFIndex(x, n_lists=2, seed=0)
    small = int(ivf.list_sizes.argmin())
    query = ivf.centroids[small : small + 1]
    scores, ids = ivf.search(query, k=8, nprobe=1)
    n = int(ivf.list_sizes.min())
    assert (ids[0, n:] == -1).all() and torch.isinf(scores[0, n:]).all()
    assert (ids[0, :n] >= 0).all()


def test_index_errors_name_the_bad_value():
    x = _clustered(50)
    with pytest.raises(ValueError, match="n_lists"):
        IVFIndex(x, n_lists=51)
    with pytest.raises(ValueError, match="nprobe"):
        IVFIndex(x, n_lists=4).search(x[:1], k=3, nprobe=5)
    with pytest.raises(ValueError, match="train_size"):
        IVFIndex(x, n_lists=10, train_size=5)
    with pytest.raises(ValueError, match=r"\(Q, k\)"):
        index_recall(torch.zeros(2, 3), torch.zeros(2, 4))


def test_noisy_gallery_keeps_the_real_rows_and_unit_norm():
    base = _clustered(20)
    g = make_noisy_gallery(base, 200, noise=0.3, seed=0)
    assert g.shape == (200, 16)
    assert torch.allclose(g[:20], base, atol=1e-6)
    assert torch.allclose(g.norm(dim=1), torch.ones(200), atol=1e-5)
    # every noisy vector is nearer some real embedding than a random direction would be
    assert (cosine_scores(g[20:], base).max(dim=1).values > 0.8).all()
    assert torch.equal(g, make_noisy_gallery(base, 200, noise=0.3, seed=0))
    with pytest.raises(ValueError, match="smaller"):
        make_noisy_gallery(base, 10)


def test_time_per_query_calls_the_search_for_every_query():
    calls = []
    seconds = time_per_query(lambda q: calls.append(q.shape), torch.randn(4, 3), repeats=2)
    assert seconds >= 0 and len(calls) == 1 + 2 * 4 and calls[0] == (1, 3)


def test_search_cost_reports_one_entry_per_size():
    x = make_noisy_gallery(_clustered(100), 1600, noise=0.2)
    cost = search_cost(x, x[:5], sizes=[400, 1600], nprobe=2, k=5, repeats=1)
    assert cost.n_lists == [20, 40]
    assert cost.exact_scored == [400.0, 1600.0]
    assert all(s < e for s, e in zip(cost.ivf_scored, cost.exact_scored))
    assert all(0 < r <= 1 for r in cost.ivf_recall)
    assert len(cost.exact_seconds) == len(cost.ivf_seconds) == 2
    with pytest.raises(ValueError, match="exceeds"):
        search_cost(x, x[:5], sizes=[5000])


def test_scene_retrieval_agrees_with_ranks_computed_per_query():
    import mmlens
    from mmlens.evaluate import scene_retrieval
    from mmlens.retrieval import make_gallery

    torch.manual_seed(0)
    model, preprocess, tokenizer = mmlens.load_model("mmlens-tiny-clip")  # random weights, offline
    g = make_gallery(model, preprocess, tokenizer, n=24, seed=3)
    assert len(g) == 24 and g.images.shape[0] == 24 and g.images.dtype.name == "uint8"
    assert g.image_emb.shape == g.text_emb.shape == (24, 64)
    assert all(data.caption_is_true(c, s) for c, s in zip(g.captions, g.scenes))
    recalls = scene_retrieval(model, tokenizer, n=24, seed=3, preprocess=preprocess)
    # an independent path: per-query ranks of the paired item, in each direction
    t2i = recall_from_ranks(match_ranks(g.text_emb, g.image_emb))
    i2t = recall_from_ranks(match_ranks(g.image_emb, g.text_emb))
    for k in (1, 5, 10):
        assert recalls[f"text_to_image@{k}"] == pytest.approx(t2i[k])
        assert recalls[f"image_to_text@{k}"] == pytest.approx(i2t[k])


def test_match_margins_sign_follows_rank():
    x = _clustered(40)
    t = x + 0.3 * torch.randn(40, 16, generator=torch.Generator().manual_seed(2))
    from mmlens.retrieval import match_margins

    margins, ranks = match_margins(t, x), match_ranks(t, x)
    assert ((margins > 0) == (ranks == 0)).all()
    expected = cosine_scores(t[:1], x)[0, 0] - cosine_scores(t[:1], x[1:]).max()
    assert margins[0].item() == pytest.approx(expected.item(), abs=1e-6)


def test_exercise_checkers_accept_solutions_and_reject_mistakes():
    from mmlens.exercises.retrieval import check_probe_lists, check_recall_at_k

    def recall(sim, k):
        true = sim.diagonal()[:, None]
        return ((sim > true).sum(1) < k).float().mean().item()

    assert check_recall_at_k(recall)
    transposed = check_recall_at_k(lambda sim, k: recall(sim.T.contiguous(), k))
    assert not transposed and "image->text" in repr(transposed)
    assert not check_recall_at_k(lambda sim, k: (_ for _ in ()).throw(NotImplementedError))

    def probe(query, centroids, nprobe):
        return (F.normalize(query, dim=0) @ centroids.T).topk(nprobe).indices

    assert check_probe_lists(probe)
    assert not check_probe_lists(lambda q, c, p: probe(q, c, p).flip(0) if p > 1 else probe(q, c, p))
    assert not check_probe_lists(lambda q, c, p: (q @ c.T).topk(p, largest=False).indices)


def test_ivf_single_query_path_agrees_with_batched_search():
    x = _clustered(500, n_centres=20, seed=7)
    ivf = IVFIndex(x, n_lists=16, seed=0)
    queries = x[:12] + 0.05
    batched_scores, batched_ids = ivf.search(queries, k=6, nprobe=3)
    for q in range(12):
        scores, ids = ivf.search(queries[q : q + 1], k=6, nprobe=3)
        assert torch.allclose(scores[0], batched_scores[q], atol=1e-6)
        assert set(ids[0].tolist()) == set(batched_ids[q].tolist())
