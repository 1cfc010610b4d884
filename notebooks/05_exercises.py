# %% [markdown]
# # Exercises
#
# Four short exercises on the demo data, each with a cell to fill in, a check that tells you
# whether your answer is right, and a worked solution below it (hide it while you work).
#
# 1. MAP@20 by hand, in both of its published forms.
# 2. The course's ridge baseline against the default model, with a paired bootstrap test.
# 3. What tag fusion adds, and where it hurts.
# 4. Reading the worst queries.

# %%
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

import numpy as np

from retrieval.config import RunConfig
from retrieval.core import Searcher, Trainer
from retrieval.data import load_competition
from retrieval.evaluation.protocol import bootstrap_interval, paired_test, reciprocal_ranks
from retrieval.metrics import map_at_k, map_at_k_linear, ranks_from_scores

ROOT = Path.cwd().parent if Path.cwd().name == "notebooks" else Path.cwd()
DEMO = ROOT / "data" / "demo"
train = load_competition(DEMO, "train")
test = load_competition(DEMO, "test", answers=DEMO / "answers_test.csv")


def test_ranks(config: RunConfig) -> np.ndarray:
    """Train on the whole train part; the rank of each test description's true image."""
    model = Trainer(config).fit(train)
    searcher = Searcher(model, model.gallery_from_dataset(test))
    return ranks_from_scores(searcher.scores(test.texts(), as_a_set=True), test.relevant)


DEFAULT = ROOT / "configs" / "demo.toml"  # the default on the demo's EfficientNet-Lite0 features
default_ranks = test_ranks(RunConfig.from_toml(DEFAULT))
print(f"{len(test)} test descriptions; median rank of the true image {np.median(default_ranks):g}")

# %% [markdown]
# ## 1. MAP@20 by hand
#
# Each description has exactly one true image. If it sits at rank `r` of the top 20, Kaggle's
# MAP@20 credits `1/r`; the linear form credits `(21 - r)/20`; a true image outside the top
# 20 earns 0. Write both.

# %%
def my_map_at_20(ranks: np.ndarray) -> float:
    ...  # your code: the mean over descriptions of 1/r, or 0 beyond rank 20


def my_map_at_20_linear(ranks: np.ndarray) -> float:
    ...  # your code: the mean of (21 - r)/20, or 0 beyond rank 20


def check_1() -> str:
    ours, linear = my_map_at_20(default_ranks), my_map_at_20_linear(default_ranks)
    if ours is None or linear is None:
        return "not yet: both functions return None"
    ok = np.isclose(ours, map_at_k(default_ranks, 20)) and np.isclose(
        linear, map_at_k_linear(default_ranks, 20)
    )
    return "right" if ok else f"not yet: {ours} and {linear}"


print(check_1())

# %% [markdown]
# Solution:

# %%
def my_map_at_20(ranks: np.ndarray) -> float:
    ranks = np.asarray(ranks)
    return float(np.where(ranks <= 20, 1.0 / ranks, 0.0).mean())


def my_map_at_20_linear(ranks: np.ndarray) -> float:
    ranks = np.asarray(ranks)
    return float(np.where(ranks <= 20, (21 - ranks) / 20, 0.0).mean())


print(check_1())
assert check_1() == "right"

# %% [markdown]
# ## 2. The course's baseline, tested fairly
#
# `configs/peers/ridge.toml` is the course's sample: TF-IDF mapped by ridge regression to the
# standardised image features, no tags (give it the default's features). Train it, and compare it with the default (which has
# tags) and with the default without tags, query by query. A difference is believable when
# its paired bootstrap interval excludes 0.

# %%
ridge_ranks = ...  # your code: the ridge peer on "efficientnet_lite0" features, through test_ranks

# %% [markdown]
# Solution:

# %%
ridge = RunConfig.from_toml(ROOT / "configs" / "peers" / "ridge.toml")
ridge.data.features = "efficientnet_lite0"  # the same features as the default
ridge_ranks = test_ranks(ridge)
untagged = RunConfig.from_toml(DEFAULT)
untagged.tags.enabled = False
untagged_ranks = test_ranks(untagged)
for name, ranks in [("ridge", ridge_ranks), ("default, no tags", untagged_ranks), ("default", default_ranks)]:
    low, high = bootstrap_interval(reciprocal_ranks(ranks))
    print(f"{name:18s} MAP@20 {map_at_k(ranks, 20):.4f}  95% interval [{low:.3f}, {high:.3f}]")
versus = paired_test(reciprocal_ranks(untagged_ranks), reciprocal_ranks(ridge_ranks))
print(
    f"default without tags vs ridge: {versus.ratio:.2f}x, difference {versus.difference:+.4f} "
    f"[{versus.low:+.4f}, {versus.high:+.4f}], p = {versus.p_value:.3f}"
)

# %% [markdown]
# ## 3. What tag fusion adds
#
# EfficientNet-Lite0's features know ImageNet's classes, not the demo's categories
# ("animals:mammals"); the tags carry those. For which descriptions do tags move the true
# image up, and for which down? Count both.

# %%
helped, hurt = ..., ...  # your code: how many descriptions rank better / worse with tags

# %% [markdown]
# Solution:

# %%
helped = int((default_ranks < untagged_ranks).sum())
hurt = int((default_ranks > untagged_ranks).sum())
print(f"tags move the true image up for {helped} descriptions and down for {hurt}")
assert helped > hurt

# %% [markdown]
# ## 4. The worst queries
#
# Print the five descriptions whose true image ranks lowest with the default model, with that
# rank and how many of its words the model knows (words the training descriptions used, or
# that GloVe places near them). What do they have in common: too few known words, words that
# name something else in the training set, or pictures unlike the others of their kind?

# %%
worst = np.argsort(-default_ranks, kind="stable")[:5]
model = Trainer(RunConfig.from_toml(DEFAULT)).fit(train)
known = model.known_words([test.texts()[i] for i in worst])
for i, count in zip(worst, known, strict=True):
    print(f"rank {default_ranks[i]:4d}  known words {count}  {test.texts()[i]!r}")
