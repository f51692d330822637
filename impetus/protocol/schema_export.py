"""JSON Schema files for every message type, so third parties integrate without reading Python."""

from __future__ import annotations

import json
from pathlib import Path

from impetus.protocol.envelope import EVENT_MODELS


def message_schemas() -> dict[str, dict]:
    schemas = {}
    for name, model in EVENT_MODELS.items():
        schema = model.model_json_schema(by_alias=True, mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"https://impetus.example/schemas/v1/{name}.schema.json"
        schema["title"] = f"impetus {name} message (impetus.event/1)"
        schemas[name] = schema
    return schemas


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in message_schemas().items():
        path = directory / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written
