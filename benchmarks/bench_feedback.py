"""Relevance feedback study: simulated users vote from the ground truth; precision@20 per round.

For each dataset (competition layout, a test part with ``answers_test.csv``; a missing
folder is skipped):

- **model**: the default configuration, ``RunConfig()``, trained on the train part, with tag
  fusion turned off (``config.tags.enabled = False``). Tag fusion scores each gallery
  picture by its own ground-truth tags, which are exactly the relevance labels below, so the
  text scores would already hold the answer (on the demo they reach 0.275 of an ideal 0.33
  before any vote); the pictures of the search page (your own folders) have no tags either.
  ``--tags`` keeps tag fusion, for comparison: there the text is already so close to the
  labels that one round of ``fused`` feedback costs P@20 on openclipart (-0.04, measured)
  and two rounds are needed to break even; the former SVM-only feedback costs -0.08.
- **relevance**: for a test description, the relevant pictures are those sharing at least
  one tag *category* (``Tag.category``) with the picture it describes, that picture included.
- **user**: sees the 20 pictures shown; going down the list, votes yes on the first (up to
  3) relevant pictures not voted on yet and no on the first (up to 3) others; then refines.
  Votes accumulate over rounds.
- **shown**: for every method alike, what the page shows: the yes-voted pictures first, the
  no-voted ones never, the rest by the method's score. P@20 is the share of relevant
  pictures among the 20 shown; "new" P@20 is the share among the 20 best pictures not voted
  on (what the former page showed; the relevant pictures not yet found).
- **methods**: ``no feedback`` (round 0: the text query's ranking); ``svm only (former)``:
  the former ``RelevanceFeedback``, an RBF SVM on the voted codes (scikit-learn's
  ``gamma="scale"`` over the voted codes), the text's scores until a yes and a no exist;
  ``rocchio``: the text scores plus the Rocchio term, z-scored and summed
  (``RelevanceFeedback(svm_weight=0, adapt_text=False)``); ``fused``: ``RelevanceFeedback()``
  as the page uses it (text x agreement, Rocchio, SVM; see ``retrieval.models.feedback``).
  ``--grid`` adds the weight variants the defaults were chosen among.

Every cell is the mean over queries with a percentile bootstrap 95% interval; "vs none" is
the paired bootstrap difference from no feedback on the same queries. ``--dev`` scores a
held-out fifth of the train part instead of the test part (the model trained on the other
four fifths): that is where the weights were chosen. ``--max-queries`` samples that many
descriptions per dataset with ``--seed`` (all by default).

Usage:
  python benchmarks/bench_feedback.py --datasets data/demo data/openclipart
  python benchmarks/bench_feedback.py --datasets data/demo data/openclipart --dev --grid
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.svm import SVC

from retrieval.config import RunConfig
from retrieval.core import Searcher, Trainer
from retrieval.data import Dataset, load_competition, train_val_split
from retrieval.evaluation.protocol import bootstrap_interval, paired_test
from retrieval.models.feedback import RelevanceFeedback

Votes = dict[int, bool]
Scorer = Callable[[np.ndarray, np.ndarray, Votes], np.ndarray]
K = 20
ROUNDS = 3
PER_ROUND = 3  # at most this many yes and this many no votes per round


def svm_only(codes: np.ndarray, text: np.ndarray, votes: Votes) -> np.ndarray:
    """The former feedback: the SVM's decision once a yes and a no exist, else the text."""
    if len(set(votes.values())) < 2:
        return text
    items = np.fromiter(votes, dtype=np.int64)
    labels = np.array([votes[i] for i in items], dtype=np.int64)
    model = SVC(kernel="rbf", C=1.0, gamma="scale", random_state=0).fit(codes[items], labels)
    return model.decision_function(codes)


def session_scorer(**params: object) -> Scorer:
    """Scores of a :class:`RelevanceFeedback` session with ``params``."""

    def score(codes: np.ndarray, text: np.ndarray, votes: Votes) -> np.ndarray:
        session = RelevanceFeedback(codes, initial_scores=text, **params)
        session.vote_many(list(votes), list(votes.values()))
        return session.scores()

    return score


def methods(grid: bool) -> dict[str, Scorer]:
    chosen = {
        "svm only (former)": svm_only,
        "rocchio": session_scorer(svm_weight=0.0, adapt_text=False),
        "fused": session_scorer(),
    }
    if not grid:
        return chosen
    return {
        **chosen,
        "fused, fixed text weight": session_scorer(adapt_text=False),
        "fused, text 2": session_scorer(text_weight=2.0),
        "fused, no svm": session_scorer(svm_weight=0.0),
        "fused, svm 1": session_scorer(svm_weight=1.0),
        "fused, negative 0": session_scorer(negative_weight=0.0),
        "fused, negative 1": session_scorer(negative_weight=1.0),
    }


def shown(scores: np.ndarray, votes: Votes) -> tuple[np.ndarray, np.ndarray]:
    """The ``K`` pictures the page shows, and the ``K`` best not voted on."""
    order = np.argsort(-scores, kind="stable")
    unvoted = [i for i in order if int(i) not in votes]
    yes = [i for i in order if votes.get(int(i)) is True]
    return np.array(yes + unvoted)[:K], np.array(unvoted)[:K]


def vote(top: np.ndarray, relevant: np.ndarray, votes: Votes) -> None:
    """The simulated user: yes on the first relevant pictures shown, no on the first others."""
    given = {True: 0, False: 0}
    for i in map(int, top):
        answer = bool(relevant[i])
        if i not in votes and given[answer] < PER_ROUND:
            votes[i] = answer
            given[answer] += 1


def simulate(
    scorer: Scorer, codes: np.ndarray, text: np.ndarray, relevant: np.ndarray
) -> np.ndarray:
    """``(ROUNDS + 1, 2)``: P@20 shown and P@20 of the pictures not voted on, after each round."""
    votes: Votes = {}
    out = []
    for round_ in range(ROUNDS + 1):
        scores = text if round_ == 0 else scorer(codes, text, votes)
        top, unvoted = shown(scores, votes)
        out.append((relevant[top].mean(), relevant[unvoted].mean()))
        vote(top, relevant, votes)
    return np.array(out)


def relevance(tags: list[list], targets: np.ndarray) -> np.ndarray:
    """``(queries, pictures)``: True where a picture shares a category with the query's picture."""
    categories = [{tag.category for tag in picture} for picture in tags]
    return np.array([[bool(categories[t] & c) for c in categories] for t in targets])


def parts(root: Path, dev: bool, seed: int) -> tuple[Dataset, Dataset]:
    """The training data and the scored data: the test part, or a held-out fifth of train."""
    train = load_competition(root, "train")
    if dev:
        return train_val_split(train, val_size=0.2, seed=seed)
    return train, load_competition(root, "test", answers=root / "answers_test.csv")


def study(root: Path, args: argparse.Namespace) -> list[dict]:
    """Per-query P@20 of every method after each round on one dataset, the ideal P@20 last."""
    started = time.perf_counter()
    train, scored = parts(root, args.dev, args.seed)
    config = RunConfig()
    config.tags.enabled = args.tags
    model = Trainer(config).fit(train)
    gallery = model.gallery_from_dataset(scored)
    queries = np.arange(len(scored.description_ids))
    if args.max_queries and args.max_queries < len(queries):
        rng = np.random.default_rng(args.seed)
        queries = np.sort(rng.choice(queries, args.max_queries, replace=False))
    texts = [scored.texts()[q] for q in queries]
    text_scores = Searcher(model, gallery).scores(texts)
    relevant = relevance(scored.tags, scored.relevant[queries])
    rows = []
    for name, scorer in methods(args.grid).items():
        values = np.stack(
            [
                simulate(scorer, gallery.codes, s, r)
                for s, r in zip(text_scores, relevant, strict=True)
            ]
        )
        rows.append({"method": name, "values": values})
    ideal = np.minimum(relevant.sum(axis=1), K) / K
    rows.append({"method": "ideal (every relevant picture first)", "values": ideal})
    print(
        f"{root}: {len(queries)} queries over {len(gallery)} pictures, "
        f"{time.perf_counter() - started:.0f} s",
        file=sys.stderr,
        flush=True,
    )
    return rows


def _cell(values: np.ndarray) -> str:
    low, high = bootstrap_interval(values)
    return f"{values.mean():.3f} [{low:.3f}, {high:.3f}]"


def table(name: str, rows: list[dict]) -> list[str]:
    """Markdown rows: no feedback once, then each method after each round."""
    *rows, ideal = rows
    base = rows[0]["values"][:, 0, 0]
    lines = [f"| {name} | no feedback | 0 | {_cell(base)} | | {_cell(base)} |"]
    for row in rows:
        for round_ in range(1, ROUNDS + 1):
            shown_p, new_p = row["values"][:, round_, 0], row["values"][:, round_, 1]
            diff = paired_test(shown_p, base)
            lines.append(
                f"| {name} | {row['method']} | {round_} | {_cell(shown_p)} | "
                f"{diff.difference:+.3f} [{diff.low:+.3f}, {diff.high:+.3f}] | {_cell(new_p)} |"
            )
    lines.append(f"| {name} | {ideal['method']} | | {_cell(ideal['values'])} | | |")
    return lines


HEADER = [
    "| dataset | method | rounds | P@20 shown [95% CI] | vs none [95% CI] | new P@20 [95% CI] |",
    "| --- | --- | ---: | ---: | ---: | ---: |",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets", nargs="+", type=Path, default=[Path("data/demo"), Path("data/openclipart")]
    )
    parser.add_argument("--max-queries", type=int, default=0, help="0: every description")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tags", action="store_true", help="keep the model's tag fusion")
    parser.add_argument("--dev", action="store_true", help="score a held-out fifth of train")
    parser.add_argument("--grid", action="store_true", help="add the weight variants")
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    lines = list(HEADER)
    for root in args.datasets:
        if not root.is_dir():
            print(f"{root}: no such folder, skipped", file=sys.stderr)
            continue
        lines += table(root.name + (" (dev)" if args.dev else ""), study(root, args))
    command = "python " + shlex.join(["benchmarks/bench_feedback.py", *sys.argv[1:]])
    text = "\n".join([*lines, "", f"Command: `{command}`"]) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
