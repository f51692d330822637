"""The one config loader: TOML files into pydantic models, with errors a technician can act on.

A mistake is reported as `FILE: key.path: what was expected (got VALUE)`, never as a traceback.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file, the key and the expectation."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = Path(path)
        self.problems = problems
        super().__init__("\n".join(f"{self.path}: {p}" for p in problems))


def read_toml(path: Path | str) -> dict[str, Any]:
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(path, ["file not found"]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, [f"not valid TOML: {error}"]) from None


def _expectation(item: dict[str, Any]) -> str:
    kind = item["type"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see the documented keys)"
    if kind == "missing":
        return "required key is missing"
    ctx = item.get("ctx") or {}
    if kind == "literal_error" and "expected" in ctx:
        return f"expected one of {ctx['expected']}"
    return f"expected {item['msg'].removeprefix('Input should be ').removeprefix('Value error, ')}"


def explain(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"]) or "(top level)"
        line = f"{key}: {_expectation(item)}"
        if item["type"] not in ("missing",):
            line += f" (got {item['input']!r})"
        problems.append(line)
    return problems


def validate(path: Path | str, data: dict[str, Any], model: type[M]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigError(path, explain(error)) from None


def load_toml_model(path: Path | str, model: type[M]) -> M:
    return validate(path, read_toml(path), model)
