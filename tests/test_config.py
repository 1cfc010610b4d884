from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.config import RunConfig
from retrieval.errors import DataFormatError

REPO = Path(__file__).resolve().parents[1]


def test_every_shipped_config_loads() -> None:
    paths = sorted((REPO / "configs").glob("*.toml"))
    assert paths
    for path in paths:
        config = RunConfig.from_toml(path)
        assert config.name == path.stem


def test_toml_overrides_defaults_only_where_stated(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('name = "x"\n[regressor]\nloss = "triplet"\nmargin = 1\n')
    config = RunConfig.from_toml(path)
    assert config.regressor.loss == "triplet"
    assert config.regressor.margin == 1.0 and isinstance(config.regressor.margin, float)
    assert config.regressor.epochs == RunConfig().regressor.epochs
    assert RunConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[regressor]\nlos = 'rmse'\n", "unknown key 'regressor.los'"),
        ("[regressor]\nloss = 'hinge'\n", "'regressor.loss' must be one of"),
        ("[image]\ncode_dim = '100'\n", "'image.code_dim' must be int"),
        ("[text]\nencoders = 'tfidf'\n", "'text.encoders' must be a list"),
        ("data = 3\n", "'data' must be a table"),
        ("[data\n", "not valid TOML"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=message) as err:
        RunConfig.from_toml(path)
    assert err.value.path == str(path)


def test_index_section_takes_a_backend_and_its_parameters(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[index]\nbackend = "hnsw"\ncandidates = 500\n[index.params]\nef = 128\n')
    index = RunConfig.from_toml(path).index
    assert (index.backend, index.candidates, index.params) == ("hnsw", 500, {"ef": 128})
    path.write_text('[index]\nbackend = "annoy"\n')
    with pytest.raises(DataFormatError, match=r"'index.backend' must be one of \['exact', 'hnsw'"):
        RunConfig.from_toml(path)
    path.write_text("[index]\nparams = 3\n")
    with pytest.raises(DataFormatError, match="'index.params' must be a table"):
        RunConfig.from_toml(path)
