"""api-first: the implementation whose routes come from reference-apps/openapi.yaml. Every operation of the document
is routed to the operation of the same operationId (devenv_app.operations); path parameters and request bodies are
checked against the document's schemas; /openapi.json serves the document itself. A document operation without an
implementation stops the app at its start, so the document and the app cannot drift apart."""

import json
import os
import re

import yaml
from fastapi import Request
from fastapi.responses import JSONResponse

from devenv_app import operations as ops
from devenv_app import settings as app_settings
from devenv_app.errors import body as error_body
from devenv_app.web import create_app, metrics_response, respond, serve

DOCUMENT = os.environ.get("APP_OPENAPI", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                      "openapi.yaml"))
METHODS = ("get", "post", "put", "patch", "delete")


def load_document(path=DOCUMENT):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def resolve(document, node):
    """Follow a local $ref (#/components/...)."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError("only local references are supported, got %s" % ref)
        node = document
        for part in ref[2:].split("/"):
            node = node[part]
    return node


def problems(document, schema, value, where):
    """What in value breaks the schema (the subset of JSON Schema the contract uses), as FastAPI-like errors."""
    schema = resolve(document, schema)
    kind = schema.get("type")
    checks = {"object": dict, "string": str, "integer": int, "boolean": bool, "array": list}
    if kind in checks and (not isinstance(value, checks[kind]) or (kind == "integer" and isinstance(value, bool))):
        return [{"loc": where, "msg": "must be of type %s" % kind, "type": "type_error"}]
    out = []
    if "enum" in schema and value not in schema["enum"]:
        out.append({"loc": where, "msg": "must be one of %s" % ", ".join(map(str, schema["enum"])), "type": "enum"})
    if kind == "string":
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append({"loc": where, "msg": "must match %s" % schema["pattern"], "type": "string_pattern_mismatch"})
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
            out.append({"loc": where, "msg": "length out of range", "type": "string_length"})
    if kind == "integer" and not schema.get("minimum", value) <= value <= schema.get("maximum", value):
        out.append({"loc": where, "msg": "out of range %s..%s" % (schema.get("minimum"), schema.get("maximum")),
                    "type": "range"})
    if kind == "object":
        properties = schema.get("properties") or {}
        out += [{"loc": [*where, name], "msg": "field required", "type": "missing"}
                for name in schema.get("required") or [] if name not in value]
        if schema.get("additionalProperties") is False:
            out += [{"loc": [*where, name], "msg": "extra field not permitted", "type": "extra_forbidden"}
                    for name in value if name not in properties]
        for name, sub in properties.items():
            if name in value and not (value[name] is None and name not in (schema.get("required") or [])):
                out += problems(document, sub, value[name], [*where, name])
    return out


def _invalid(request, details):
    return JSONResponse(error_body(422, "invalid_request", "the request does not match the API contract",
                                   getattr(request.state, "request_id", "-"), details), status_code=422)


def endpoint(document, operation):
    """The route of one document operation: check its parameters and body, then run the operation."""
    op_id = operation["operationId"]
    params = [resolve(document, p) for p in operation.get("parameters") or []]
    body = operation.get("requestBody")
    body_schema = resolve(document, body)["content"]["application/json"]["schema"] if body else None
    if op_id == "metrics":
        async def run_metrics(request: Request):
            return metrics_response(request.app.state.ctx)
        return run_metrics
    handler = ops.OPERATIONS.get(op_id)
    if handler is None:
        raise RuntimeError("openapi.yaml names operation %s, which devenv_app.operations does not implement" % op_id)

    async def run(request: Request):
        args, errors = [], []
        for param in params:
            value = request.path_params.get(param["name"])
            errors += problems(document, param["schema"], value, ["path", param["name"]])
            args.append(value)
        if body_schema is not None:
            try:
                data = json.loads(await request.body() or b"null")
            except ValueError:
                return _invalid(request, [{"loc": ["body"], "msg": "not JSON", "type": "json_invalid"}])
            errors += problems(document, body_schema, data, ["body"])
            args.append(data)
        if errors:
            return _invalid(request, errors)
        return respond(await handler(request.app.state.ctx, *args))
    run.__name__ = op_id
    return run


def _route_order(path):
    """Literal segments before templated ones (/health/all before /health/{service})."""
    return [(1, "") if part.startswith("{") else (0, part) for part in path.split("/")]


def build(settings, document):
    app = create_app(settings)
    for path in sorted(document["paths"], key=_route_order):
        for method, operation in document["paths"][path].items():
            if method in METHODS:
                app.add_api_route(path, endpoint(document, operation), methods=[method.upper()],
                                  operation_id=operation["operationId"], include_in_schema=False)
    app.openapi = lambda: dict(document, info=dict(document["info"], title=settings.name))
    return app


settings = app_settings.load()
app = build(settings, load_document())

if __name__ == "__main__":
    serve(app, settings)
