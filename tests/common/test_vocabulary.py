"""metrics_api's schemas name the same words as services/common/vocabulary.py (their enums make
the OpenAPI document's named schemas); this keeps the two from drifting apart."""

from typing import get_args

import pytest

from services.common import vocabulary
from services.metrics_api.metrics import schemas


@pytest.mark.parametrize(
    ("enum", "words"),
    [
        (schemas.Kind, vocabulary.Kind),
        (schemas.Direction, vocabulary.Direction),
        (schemas.Aggregation, vocabulary.Aggregation),
    ],
)
def test_metrics_api_uses_the_common_words(enum, words):
    assert sorted(member.value for member in enum) == sorted(get_args(words))
