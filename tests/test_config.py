from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.config import NeuralParams, RunConfig
from retrieval.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def test_every_shipped_config_loads() -> None:
    paths = sorted((REPO / "configs").rglob("*.toml"))
    assert len(paths) > 3
    for path in paths:
        config = RunConfig.from_toml(path)
        assert config.name == path.stem
        assert RunConfig.from_dict(config.to_dict()) == config


def test_the_default_config_file_is_the_built_in_default() -> None:
    assert RunConfig.from_toml(REPO / "configs" / "default.toml") == RunConfig(name="default")


def test_toml_overrides_defaults_only_where_stated(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(
        'name = "x"\n[[mappers]]\nkind = "neural"\nparams = {loss = "triplet", margin = 1}\n'
    )
    config = RunConfig.from_toml(path)
    params = config.mappers[0].params
    assert params["loss"] == "triplet"
    assert params["margin"] == 1.0 and isinstance(params["margin"], float)
    assert params["epochs"] == NeuralParams().epochs
    assert config.image == RunConfig().image
    assert RunConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[[mappers]]\nkind = 'ridge'\nparams = {alfa = 1}\n",
            "unknown key 'mappers\\[0\\].params.alfa'",
        ),
        ("[[mappers]]\nparams = {loss = 'hinge'}\n", "'mappers\\[0\\].params.loss' must be one of"),
        ("[[mappers]]\nkind = 'lasso'\n", "'mappers\\[0\\].kind' must be one of"),
        ("mappers = []\n", "at least one"),
        ("[regressor]\nloss = 'rmse'\n", "unknown key 'regressor'"),
        ("[image]\ncode_dim = '100'\n", "'image.code_dim' must be int"),
        ("[text]\nencoders = 'tfidf'\n", "'text.encoders' must be a list"),
        ("data = 3\n", "'data' must be a table"),
        ("[data\n", "not valid TOML"),
        ("[fusion]\nholdout = 1.5\n", "'fusion.holdout' must be between 0 and 1"),
        ("[fusion]\nholdout_items = -1\n", "'fusion.holdout_items' must be 0 or more"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        RunConfig.from_toml(path)
    assert err.value.path == str(path)


def test_index_section_takes_a_backend_and_its_parameters(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[index]\nbackend = "hnsw"\ncandidates = 500\n[index.params]\nef = 128\n')
    index = RunConfig.from_toml(path).index
    assert (index.backend, index.candidates, index.params) == ("hnsw", 500, {"ef": 128})
    path.write_text('[index]\nbackend = "annoy"\n')
    with pytest.raises(ConfigError, match=r"'index.backend' must be one of \['exact', 'hnsw'"):
        RunConfig.from_toml(path)
    path.write_text("[index]\nparams = 3\n")
    with pytest.raises(ConfigError, match="'index.params' must be a table"):
        RunConfig.from_toml(path)


def test_the_default_run_chooses_fusion_weights_cheaply_and_a_fusion_table_keeps_every_item(
    tmp_path: Path,
) -> None:
    assert (RunConfig().fusion.holdout_items, RunConfig().fusion.holdout_refine) == (5000, False)
    path = tmp_path / "c.toml"
    path.write_text('[fusion]\nselect = "holdout"\n')
    fusion = RunConfig.from_toml(path).fusion
    assert (fusion.holdout_items, fusion.holdout_refine) == (0, True)
