"""A closed pipe (`retrieval ... | head -1`) ends the command quietly, as Unix tools end."""

from __future__ import annotations

import subprocess
import sys

from tests.jax_child import REPO

RUN = "import sys; from retrieval.cli import main; sys.exit(main(sys.argv[1:]))"


def test_summary_into_a_closed_pipe_prints_no_traceback() -> None:
    command = f"{sys.executable} -c '{RUN}' summary data/demo | head -1"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert len(done.stdout.splitlines()) == 1
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.returncode in (0, 141)


def _into_a_closed_pipe(arguments: str, feed: str | None = None) -> subprocess.CompletedProcess:
    command = f"{sys.executable} -c '{RUN}' {arguments} | head -1"
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        cwd=REPO,
        input=feed,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_search_and_piped_queries_into_a_closed_pipe_print_no_traceback(tmp_path) -> None:  # noqa: ANN001
    """``search --k 100 | head -1`` and queries read from stdin (one answer block each)."""
    from retrieval.config import RunConfig
    from retrieval.core import Trainer, save_bundle
    from retrieval.data import load_competition

    config = RunConfig.from_toml(REPO / "configs" / "peers" / "ridge.toml")
    config.tags.enabled = False
    train = load_competition(REPO / "data" / "demo", "train")
    model = Trainer(config).fit(train)
    bundle = save_bundle(tmp_path / "bundle", model, model.gallery_from_dataset(train))
    for arguments, feed in [
        (f"search apple --bundle {bundle} --k 100", None),
        (f"search --bundle {bundle} --k 100", "a red apple\na dog\n" * 50),
    ]:
        done = _into_a_closed_pipe(arguments, feed)
        assert len(done.stdout.splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
        assert done.returncode in (0, 141), done.stderr
