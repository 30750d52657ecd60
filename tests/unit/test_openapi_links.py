"""The OpenAPI links (api/links.py): every one is in /openapi.json, names a real target operation
and its path parameters, and every `$response.body#/...` pointer names a field the source's
declared response schema has (all of them are typed)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from puhui.adapters.db.database import Database
from puhui.api.app import create_app
from puhui.api.links import LINKS, Link
from puhui.bootstrap import Container
from puhui.config import load_settings


def _spec() -> dict[str, Any]:
    url = "sqlite:///never-opened.db"  # the contract does not depend on the data
    app = create_app(Container(load_settings(database_url=url, env="demo"), Database(url)))
    with TestClient(app) as client:
        return dict(client.get("/openapi.json").json())


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    for choice in node.get("anyOf", []):  # `X | None`: the non-null branch
        if choice.get("type") != "null":
            return _resolve(spec, choice)
    return node


def _walk(spec: dict[str, Any], schema: dict[str, Any], pointer: str) -> bool | None:
    """True if the pointer names a declared field; None where the schema does not say (untyped)."""
    node = _resolve(spec, schema)
    for part in pointer.strip("/").split("/"):
        if part.isdigit():
            if node.get("type") != "array":
                return False
            node = _resolve(spec, node["items"])
        elif "properties" in node:
            if part not in node["properties"]:
                return False
            node = _resolve(spec, node["properties"][part])
        else:
            return None
    return True


def test_every_link_is_served_and_points_at_declared_fields() -> None:
    spec = _spec()
    operations = {f"{m.upper()} {p}": op for p, item in spec["paths"].items() for m, op in item.items()}
    by_id = {op["operationId"]: label for label, op in operations.items()}
    checked = unchecked = 0
    for (source, status), links in LINKS.items():
        response = operations[source]["responses"][status]
        schema = response.get("content", {}).get("application/json", {}).get("schema", {})
        for name, link in links.items():
            served = response["links"][name]
            assert by_id[served["operationId"]] == link.target, (source, name)
            for expression in [*link.parameters.values(), *(link.body or {}).values()]:
                if not expression.startswith("$response.body#"):
                    continue
                found = _walk(spec, schema, expression.removeprefix("$response.body#"))
                assert found is not False, f"{source} -> {name}: {expression} is not in the response schema"
                checked, unchecked = (checked + 1, unchecked) if found else (checked, unchecked + 1)
    assert sum(len(v) for v in LINKS.values()) == 137  # RELIABILITY.md
    assert (checked, unchecked) == (94, 0)  # every source's response schema is typed


def test_an_unknown_target_is_an_error_not_a_missing_link() -> None:
    from puhui.api import links

    spec = _spec()
    bad = {**links.LINKS, ("GET /v1/products", "200"): {"Nowhere": Link("GET /v1/nowhere")}}
    original = links.LINKS
    links.LINKS = bad
    try:
        links.add_links(spec)
    except links.LinkError as exc:
        assert "GET /v1/nowhere" in str(exc)
    else:
        raise AssertionError("an unknown target was accepted")
    finally:
        links.LINKS = original
