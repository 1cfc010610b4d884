"""Reports on the demo data: metric values, self-containment, chosen queries, placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from retrieval.metrics import MAP, MAP_LINEAR, top_k
from retrieval.report import RunResult, write_report
from retrieval.report._html import pick_queries

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo"


@pytest.fixture(scope="module")
def demo():
    from retrieval.data import load_competition

    return load_competition(DEMO, "train", features=None)


def _ranked_run(demo, ranks, name="hand") -> RunResult:
    """A run whose true image sits at the given ranks (query q describes image q)."""
    n_gallery = 60
    paths = list(demo.image_paths[:n_gallery])
    rows, relevant = [], []
    for q, r in enumerate(ranks):
        others = [i for i in range(n_gallery) if i != q]
        row = others[: r - 1] + [q] + others[r - 1 :]
        rows.append(row[:20])
        relevant.append(q)
    texts = [demo.descriptions[q][0] for q in range(len(ranks))]
    return RunResult(
        name=name,
        gallery_paths=paths,
        query_texts=texts,
        relevant=np.array(relevant),
        ranking=np.array(rows),
        ranks=np.array(ranks),
    )


def test_metrics_by_hand(demo):
    values = _ranked_run(demo, [1, 2, 25]).metrics()
    assert values[MAP] == pytest.approx((1 + 0.5 + 0) / 3)
    assert values[MAP_LINEAR] == pytest.approx((1 + 19 / 20 + 0) / 3)
    assert values["R@1"] == pytest.approx(1 / 3)
    assert values["R@20"] == pytest.approx(2 / 3)
    assert values["median rank"] == 2


def test_report_values_picks_and_self_contained(demo, tmp_path):
    run = _ranked_run(demo, [3, 1, 25, 7, 12])
    path = write_report(tmp_path, [run], title="Hand-made", gallery_note="Demo train images.")
    page = path.read_text(encoding="utf-8")
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    expected = (1 / 3 + 1 + 0 + 1 / 7 + 1 / 12) / 5
    assert f"{expected:.4f}" in page and f"{expected:.4f}" in md
    assert "gallery size" in md and "60" in md
    for src in re.findall(r'src="([^"]*)"', page):
        assert src.startswith("data:image/")
    assert "http://" not in page and "https://" not in page
    assert pick_queries(run.ranks) == {"best": 1, "median": 3, "worst": 2}
    assert f"best query #1 (rank 1): {run.query_texts[1]}" in md
    assert f"worst query #2 (rank 25): {run.query_texts[2]}" in md
    assert "true image at rank 25 of 60" in page


def test_tfidf_run_with_codes_history_and_missing_image(demo, tmp_path):
    from sklearn.feature_extraction.text import TfidfVectorizer

    n = 80
    gallery_text = [" ".join(d[1:]) for d in demo.descriptions[:n]]
    queries = [d[0] for d in demo.descriptions[:n]]
    vec = TfidfVectorizer().fit(gallery_text + queries)
    g, q = vec.transform(gallery_text), vec.transform(queries)
    scores = (q @ g.T).toarray()
    paths = list(demo.image_paths[:n])
    paths[int(np.argmax(scores[0]))] = tmp_path / "gone.jpg"
    run = RunResult(
        name="tfidf",
        gallery_paths=paths,
        query_texts=queries,
        relevant=np.arange(n),
        scores=scores,
        codes=g.toarray()[:, :50] + np.random.default_rng(0).normal(0, 1e-3, (n, 50)),
        history={"mapper 0 (neural)": {"loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.8, 0.7]}},
        config={"encoder": "tfidf"},
    )
    other = RunResult(
        name="random",
        gallery_paths=paths,
        query_texts=queries,
        relevant=np.arange(n),
        scores=np.random.default_rng(1).random((n, n)),
    )
    path = write_report(tmp_path / "out", [run, other], title="TF-IDF", gallery_note="80 demo.")
    page = path.read_text(encoding="utf-8")
    assert "Comparison" in page and "PCA map" in page and "loss curves" in page
    assert f"{run.metrics()[MAP]:.4f}" in page
    # the missing file became a placeholder, not a crash
    from retrieval.report._figures import load_thumbnail

    _, ok = load_thumbnail(tmp_path / "gone.jpg")
    assert not ok


def test_cli_npz(demo, tmp_path):
    from retrieval.cli import main

    run = _ranked_run(demo, [1, 2, 25])
    npz = tmp_path / "run.npz"
    np.savez(
        npz,
        gallery_paths=np.array([str(p) for p in run.gallery_paths]),
        query_texts=np.array(run.query_texts),
        relevant=run.relevant,
        ranking=run.ranking,
        ranks=run.ranks,
    )
    assert main(["report", "--scores", str(npz), "--out", str(tmp_path / "r"), "--title", "t"]) == 0
    assert "0.5000" in (tmp_path / "r" / "report.md").read_text()
    assert (
        main(["report", "--out", str(tmp_path / "none")]) == 1
    )  # nothing to report: one-line error


def test_the_report_shows_the_top_20_a_submission_would_hold(demo):
    scores = np.zeros((2, 30))
    scores[1, 5] = 1.0
    run = RunResult(
        "ties", list(demo.image_paths[:30]), ["a", "b"], np.array([3, 5]), scores=scores
    )
    np.testing.assert_array_equal(run.ranking, top_k(scores, 20))
    assert run.ranks[1] == 1 and run.ranking[1][0] == 5
    # with all scores tied, the true image's rank is its place in that same order
    position = list(top_k(scores, 30)[0]).index(3) + 1
    assert run.ranks[0] == position


def test_missing_true_image_is_a_placeholder_in_the_page(demo, tmp_path):
    run = _ranked_run(demo, [1, 30])
    run.gallery_paths[0] = tmp_path / "gone.jpg"
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    run.gallery_paths[1] = tmp_path / "bad.jpg"
    page = write_report(tmp_path / "out", [run]).read_text(encoding="utf-8")
    assert 'alt="gone.jpg"' in page and "true image at rank 30 of 60" in page


def test_thumbnails_hover_with_their_caption_and_the_map_is_coloured_by_tag(demo, tmp_path):
    from unittest import mock

    from retrieval.report import _figures

    n = 40
    run = RunResult(
        name="captions",
        gallery_paths=list(demo.image_paths[:n]),
        query_texts=demo.texts()[:n],
        relevant=np.arange(n),
        scores=np.eye(n) + np.random.default_rng(0).random((n, n)) * 0.1,
        codes=np.random.default_rng(1).normal(size=(n, 8)),
        gallery_captions=demo.texts()[:n],
        gallery_groups=[tags[0].supercategory if tags else "" for tags in demo.tags[:n]],
    )
    with mock.patch.object(_figures, "pca_map", wraps=_figures.pca_map) as pca:
        page = write_report(tmp_path, [run]).read_text(encoding="utf-8")
    assert 'title="A strawberry."' in page  # demo train item 0's caption, not "0.jpg"
    assert pca.call_args.kwargs["groups"][0] == "food"
    with pytest.raises(ValueError, match="gallery_captions must hold one entry per gallery image"):
        RunResult(
            name="bad",
            gallery_paths=run.gallery_paths,
            query_texts=run.query_texts,
            relevant=run.relevant,
            scores=run.scores,
            gallery_captions=["x"],
        )


def test_a_comparison_carries_a_paired_test_of_each_run_against_the_first(demo, tmp_path):
    first = _ranked_run(demo, [1] * 30, name="good")
    same = _ranked_run(demo, [1] * 29 + [2], name="nearly the same")
    worse = _ranked_run(demo, [25] * 30, name="far worse")
    write_report(tmp_path, [first, same, worse], title="three runs")
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    rows = {line.split(" | ")[0].lstrip("| "): line for line in md.splitlines() if "], p " in line}
    assert float(rows["far worse"].rsplit("p ", 1)[1].split()[0]) < 0.05  # a real difference
    assert float(rows["nearly the same"].rsplit("p ", 1)[1].split()[0]) > 0.05  # chance
    assert "paired bootstrap" in page
    other = _ranked_run(demo, [1] * 20, name="other queries")
    write_report(tmp_path / "b", [first, other])
    assert "other queries: no paired test" in (tmp_path / "b" / "report.md").read_text()
