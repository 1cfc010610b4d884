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
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case) -> None:
    # Schema-valid input can still be refused on its content (an empty or non-image upload,
    # a blank query): those answers are documented as 400/413/422 instead.
    case.call_and_validate(excluded_checks=[schemathesis.checks.positive_data_acceptance])
