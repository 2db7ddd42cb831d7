#!/usr/bin/python3
"""Converts docs/openapi.yaml into the JSON that GET /openapi.json serves (a build step).

    openapi_json.py docs/openapi.yaml build/generated/openapi.json

The output is byte-stable: keys keep the document's order, separators are fixed, and nothing
depends on the time or the machine. Stricter than plain YAML, because a hand-written description
of this size hides typos YAML accepts silently: a duplicate key (the second would win), a null
(e.g. `{description: a, b}` in a flow mapping makes `b` a key with no value), a key that is not
a string (an unquoted `200:` is an integer), or a date YAML would turn into a timestamp.
"""
import json
import os
import sys

import yaml


class StrictLoader(yaml.SafeLoader):
    pass


# JSON has no timestamps: anything that looks like a date stays the string it was written as.
StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def construct_mapping(loader, node, deep=False):
    seen = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor`: its keys may be overridden on purpose
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.MarkedYAMLError(
                "duplicate key", seen[key], f"{key!r} again", key_node.start_mark
            )
        seen[key] = key_node.start_mark
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)


def check(value, where):
    if value is None:
        sys.exit(f"{where}: null value (a stray comma or colon in a flow mapping?)")
    if isinstance(value, float) and value != value:
        sys.exit(f"{where}: NaN")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                sys.exit(f"{where}: key {k!r} is not a string (quote it)")
            check(v, f"{where}/{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check(v, f"{where}/{i}")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source, target = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8") as f:
        try:
            doc = yaml.load(f, Loader=StrictLoader)
        except yaml.YAMLError as e:
            sys.exit(f"{source}: {e}")
    if not isinstance(doc, dict) or "openapi" not in doc:
        sys.exit(f"{source}: not an OpenAPI document")
    check(doc, source + "#")
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
    # Written aside and renamed: a failed run never leaves a half-written file for the build.
    tmp = target + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, target)


if __name__ == "__main__":
    main()
