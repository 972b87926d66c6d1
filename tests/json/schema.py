"""Builds the JSON Schemas of fsc's two output forms from man/schema/VERB.json.

A verb's file lists its record kinds and its summary. --json writes one
document: the summary's fields plus "schema", "verb", "complete" and
"records" (every record, each with "record": KIND). --json=lines writes each
record on a line, then the summary as a record of kind "summary" carrying
"schema", "verb" and "complete" too.
"""
import copy
import json

FRAME = {
    "schema": {"const": 2},
    "verb": {"type": "string"},
    "complete": {"type": "boolean"},
}


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def tagged(kind, body):
    """body with "record": kind allowed and required."""
    body = copy.deepcopy(body)
    if "anyOf" in body:
        return {"anyOf": [tagged(kind, b) for b in body["anyOf"]]}
    if "$ref" in body:
        return {"allOf": [body]}  # resolved below by inlining
    body["properties"] = dict(body["properties"], record={"const": kind})
    body["required"] = sorted(set(body.get("required", [])) | {"record"})
    return body


def _inline(spec, node):
    """Replaces a top-level $ref of a record by its definition."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        return copy.deepcopy(spec["$defs"][name])
    return node


def record_schemas(spec):
    return [tagged(k, _inline(spec, v)) for k, v in spec["records"].items()]


def document_schema(spec):
    summary = copy.deepcopy(spec["summary"])
    props = dict(summary["properties"], **FRAME)
    props["verb"] = {"const": spec["verb"]}
    props["records"] = {"type": "array",
                        "items": {"anyOf": record_schemas(spec)}}
    summary["properties"] = props
    summary["required"] = sorted(set(summary["required"]) |
                                 {"schema", "verb", "complete", "records"})
    summary["$defs"] = spec["$defs"]
    return summary


def line_schema(spec):
    summary = copy.deepcopy(spec["summary"])
    props = dict(summary["properties"], **FRAME, record={"const": "summary"})
    props["verb"] = {"const": spec["verb"]}
    summary["properties"] = props
    summary["required"] = sorted(set(summary["required"]) |
                                 {"schema", "verb", "complete", "record"})
    return {"$defs": spec["$defs"],
            "anyOf": record_schemas(spec) + [summary]}


def field_names(spec):
    """Every field name a verb's records and summary can carry."""
    names = set()

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                walk(spec["$defs"][node["$ref"].rsplit("/", 1)[1]])
            for k, v in node.get("properties", {}).items():
                names.add(k)
                walk(v)
            for key in ("items", "anyOf", "additionalProperties"):
                sub = node.get(key)
                if isinstance(sub, list):
                    for s in sub:
                        walk(s)
                elif isinstance(sub, dict):
                    walk(sub)

    for body in spec["records"].values():
        walk(body)
    walk(spec["summary"])
    return names
