from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from retrieval.data import Dataset, Tag, load_competition


def test_summary_counts_on_demo(demo_root: Path) -> None:
    summary = load_competition(demo_root, "train", features=None).summary(top_tags=3)
    assert summary.images == 561 and summary.descriptions == 561
    assert summary.sentences == 561 and summary.sentences_per_description.max == 1
    assert summary.top_tags[0] == ("animals:mammals", 51)
    text = str(summary)
    assert "561 images, 561 descriptions (paired)" in text
    assert "animals:mammals" in text


def test_constructor_checks_alignment() -> None:
    with pytest.raises(ValueError, match="tags has 1 entries, ids has 2"):
        Dataset(
            ids=["0", "1"],
            image_paths=[Path("a"), Path("b")],
            tags=[[]],
            description_ids=[],
            descriptions=[],
        )
    with pytest.raises(ValueError, match=r"pool5 must have shape \(2, d\)"):
        Dataset.paired(
            ids=["0", "1"],
            image_paths=[Path("a"), Path("b")],
            descriptions=[[], []],
            pool5=np.zeros((3, 4)),
        )


def test_features_accessor_explains_missing_features() -> None:
    ds = Dataset.paired(ids=["0"], image_paths=[Path("a")], descriptions=[["x"]], name="tiny")
    with pytest.raises(ValueError, match="tiny has no pool5 features"):
        ds.features("pool5")
    with pytest.raises(ValueError, match="one of pool5, fc1000, clip, efficientnet_lite0"):
        ds.features("fc7")


def test_tag_text_forms() -> None:
    assert str(Tag("furniture", "dining table")) == "furniture:dining table"
    assert str(Tag("", "red")) == "red"
