"""The package's messages: the ``"retrieval"`` logger, to stderr by default or to the
application's own handlers."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pytest

from retrieval import workflows
from retrieval.config import RunConfig
from retrieval.logs import to_stderr, use_application_logging

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"


def test_messages_reach_the_stderr_of_the_moment_and_only_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler = to_stderr()
    assert to_stderr() is handler
    assert logging.getLogger("retrieval").handlers.count(handler) == 1
    logging.getLogger("retrieval.features._extract").warning("skipping %s: %s", "a.jpg", "bad")
    logging.getLogger("retrieval.core.trainer").debug("not shown at INFO")
    assert capsys.readouterr().err == "skipping a.jpg: bad\n"


def test_an_application_can_take_the_records_through_its_own_logging(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    use_application_logging()
    try:
        with caplog.at_level(logging.INFO):
            logging.getLogger("retrieval.library._library").warning("skipping %s", "b.png")
        assert "skipping b.png" in caplog.messages
        assert capsys.readouterr().err == ""
    finally:
        to_stderr()


def test_train_logs_its_steps_and_leaves_the_caller_s_config_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = RunConfig.from_dict(
        {
            "name": "tiny",
            "data": {"root": "somewhere/else"},
            "image": {"use_autoencoder": False, "whiten": False},
            "tags": {"enabled": False},
            "mappers": [{"kind": "ridge", "space": "features"}],
        }
    )
    before = config.to_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workflows.train(config, root=DEMO, out=tmp_path / "run")
    assert config.to_dict() == before
    err = capsys.readouterr().err
    assert "training 'tiny' on 449 items of demo/train" in err
    assert "s] " in err  # the trainer's timed steps
