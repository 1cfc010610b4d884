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


def test_the_demo_config_file_is_what_the_demo_trains() -> None:
    from retrieval.workflows import demo_config

    assert RunConfig.from_toml(REPO / "configs" / "demo.toml") == demo_config()


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
        ("[text]\nencoders = ['tfid']\n", "'text.encoders\\[0\\]' must be one of \\['tfidf'"),
        ("[text]\nencoders = []\n", "'text.encoders' must list one or more of"),
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


def test_a_partial_table_keeps_the_default_run_s_values_for_what_it_does_not_name(
    tmp_path: Path,
) -> None:
    assert (RunConfig().fusion.holdout_items, RunConfig().fusion.holdout_refine) == (5000, False)
    path = tmp_path / "c.toml"
    path.write_text('[fusion]\nselect = "holdout"\ngrid = [0.0, 1.0]\n')
    fusion = RunConfig.from_toml(path).fusion
    assert (fusion.holdout_items, fusion.holdout_refine, fusion.grid) == (5000, False, (0.0, 1.0))
    # every section's dataclass defaults are the default run's: nothing else overrides them
    default = RunConfig()
    for section in ("data", "image", "text", "tags", "concepts", "fusion", "query_set", "index"):
        assert getattr(default, section) == type(getattr(default, section))(), section
    # the default mapper is the learned mapping with its estimator's own defaults
    from retrieval.models.kinds import make_mapper

    member = default.mappers[0]
    assert (member.kind, member.space) == ("neural", "features")
    assert make_mapper("neural", member.params).get_params() == make_mapper("neural").get_params()


def test_every_mapper_parameter_is_written_once_signature_defaults_and_checks_agree() -> None:
    import dataclasses
    import inspect

    from retrieval.config import MAPPER_PARAMS
    from retrieval.models.kinds import MAPPERS

    for kind, params in MAPPER_PARAMS.items():
        signature = inspect.signature(MAPPERS[kind].__init__).parameters
        for field in dataclasses.fields(params):
            assert signature[field.name].default == field.default, (kind, field.name)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            "kind = 'ridge'\nparams = {alpha = 0}",
            "'mappers\\[0\\].params.alpha' must be a number above 0",
        ),
        (
            "params = {dropout = 1.0}",
            "'mappers\\[0\\].params.dropout' must be a number at least 0 and below 1",
        ),
        (
            "params = {hidden = [64, 0]}",
            "'mappers\\[0\\].params.hidden\\[1\\]' must be a number at least 1",
        ),
        ("params = {epochs = -2}", "'mappers\\[0\\].params.epochs' must be a number at least 0"),
    ],
)
def test_a_parameter_out_of_range_is_refused_when_the_file_is_read(
    tmp_path: Path, table: str, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f"[[mappers]]\n{table}\n")
    with pytest.raises(ConfigError, match=message) as err:
        RunConfig.from_toml(path)
    assert err.value.path == str(path)
