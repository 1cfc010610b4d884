"""Property-based checks of the JSON API against its own OpenAPI spec (schemathesis)."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402

from retrieval.data import load_competition  # noqa: E402
from retrieval.web import create_app  # noqa: E402
from tests.web.conftest import DEMO, CaptionGallery  # noqa: E402

train = load_competition(DEMO, "train", features=None)
app = create_app(
    CaptionGallery(train.image_paths[:60], train.texts()[:60]),
    roots=[DEMO],
    max_upload_bytes=100_000,
    allowed_hosts=None,  # schemathesis' client sends a host of its own; test_app checks hosts
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case) -> None:
    # Schema-valid input can still be refused on its content (an empty or non-image upload,
    # a blank query): those answers are documented as 400/413/422 instead.
    case.call_and_validate(excluded_checks=[schemathesis.checks.positive_data_acceptance])


@pytest.fixture(scope="module")
def library_app(tmp_path_factory: pytest.TempPathFactory):
    """The API over a real library: a ridge bundle, six demo pictures indexed with the
    bundle's (random-weight) network, served from the library's declared folder."""
    import shutil

    from retrieval.config import RunConfig
    from retrieval.core import Trainer, save_bundle
    from retrieval.library import PictureLibrary
    from retrieval.web import SearcherBackend

    config = RunConfig.from_dict(
        {"mappers": [{"kind": "ridge", "space": "code"}], "tags": {"enabled": False}}
    )
    demo = load_competition(DEMO, "train")
    model = Trainer(config).fit(demo)
    work = tmp_path_factory.mktemp("library")
    bundle = save_bundle(work / "bundle", model, model.gallery_from_dataset(demo))
    photos = work / "photos"
    photos.mkdir()
    for i in range(6):
        shutil.copyfile(DEMO / "images_test" / f"{i}.jpg", photos / f"p{i}.jpg")
    library = PictureLibrary(work / "store")
    library.update([photos], bundle=bundle)
    backend = SearcherBackend(library.searcher(), roots=library.roots)
    return create_app(backend, roots=backend.roots(), max_upload_bytes=100_000, allowed_hosts=None)


@pytest.mark.slow
def test_api_over_a_library_conforms_to_its_schema(library_app) -> None:
    from hypothesis import given

    library_schema = schemathesis.openapi.from_asgi("/openapi.json", library_app)
    operations = [result.ok() for result in library_schema.get_all_operations()]
    assert len(operations) >= 4
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
        def conforms(case) -> None:
            case.call_and_validate(excluded_checks=[schemathesis.checks.positive_data_acceptance])

        conforms()
