"""The shipped OpenAPI document matches the routes and the config model."""

from __future__ import annotations

from vmm.api.actions import Action
from vmm.api.openapi import build_document, load_document
from vmm.api.routes import ROUTES


def test_the_shipped_document_is_the_one_built_from_the_code() -> None:
    assert load_document() == build_document(), "regenerate: python -m vmm.api.openapi"


def test_every_route_and_method_is_documented_and_nothing_else() -> None:
    paths = load_document()["paths"]
    documented = {(path, method.upper()) for path, item in paths.items() for method in item}
    served = {(f"/{endpoint}", method) for endpoint, (method, _) in ROUTES.items()}
    assert documented == served


def test_every_action_has_a_route() -> None:
    assert {action.value for action in Action} | {"vmm.ping"} == set(ROUTES)


def test_request_bodies_are_documented_where_the_routes_take_one() -> None:
    paths = load_document()["paths"]
    for endpoint, (method, schema) in ROUTES.items():
        operation = paths[f"/{endpoint}"][method.lower()]
        assert ("requestBody" in operation) == (schema is not None), endpoint


def test_vm_config_refuses_unknown_fields_and_requires_what_the_decoder_requires() -> None:
    schemas = load_document()["components"]["schemas"]
    assert schemas["VmConfig"]["additionalProperties"] is False
    assert schemas["MemoryConfig"]["required"] == ["size"]
    assert schemas["MemoryConfig"]["properties"]["size"]["maximum"] == (1 << 64) - 1
