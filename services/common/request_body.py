"""The base of every JSON request body."""

from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class RequestBody(BaseModel):
    """Unknown fields are refused (a misspelt option must not be silently ignored), so are
    Infinity and NaN (they would pass range checks and then break storage and JSON), and an
    optional field sent as JSON null means the same as leaving it out (API.md amendments), as
    clients that serialise absent options as null expect."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _null_means_absent(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        optional = _optional_keys(cls)
        return {
            key: value for key, value in data.items() if value is not None or key not in optional
        }


@cache
def _optional_keys(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(
        field.alias or name for name, field in model.model_fields.items() if not field.is_required()
    )
