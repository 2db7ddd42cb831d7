#!/usr/bin/python3
"""The problem codes of the API description against the problem codes the sources throw.

    openapi_problem_codes.py SOURCE_DIR OPENAPI_JSON BEAST_STATUS_HPP

Reads the description as the build embeds it (build/generated/openapi.json) and finds in
src/**/*.cpp every problem code thrown with its HTTP status:
  - the domain error table in src/http/problem.cpp: {domain::errc::x, bhttp::status::y, "code"};
  - http::api_error(STATUS, "code", ...), http::problem{STATUS, "code", ...},
    answer_early(STATUS, "code", ...);
  - helpers that wrap api_error with a fixed status, e.g. tus's bad_request("code", ...).
STATUS is a bhttp::status name (numbers from Beast's own header) or a constant defined in the
same file as static_cast<bhttp::status>(NNN).

Checks, each reporting every offender:
  1. every code the sources throw is in the ProblemCode schema's enum;
  2. every code of that enum occurs in the sources (no stale or invented codes);
  3. every problem response an operation describes names its codes (a `code` enum), and each
     of those codes is one the sources throw with that status;
  4. every (status, code) the sources throw is described by some operation, or in the table of
     answers any route may give in info.description.
"""
import json
import pathlib
import re
import sys

CODE = r'"([a-z][a-z0-9_]*)"'
STATUS = r"([A-Za-z_][\w:]*)"


def strip_comments(text):
    # Line comments only (the sources use no block comments around code); string literals with
    # "//" in them do not precede a problem code on the same line.
    return re.sub(r"//[^\n]*", "", text)


def beast_statuses(header):
    text = pathlib.Path(header).read_text()
    body = text[text.index("enum class status") :]
    body = body[: body.index("};")]
    return {name: int(num) for name, num in re.findall(r"\b(\w+)\s*=\s*(\d+)", body)}


def source_codes(src_dir, statuses):
    """{code: {status: [where, ...]}} for every problem code thrown in the sources."""
    found = {}
    unresolved = []

    def add(code, status_token, text, path, pos):
        line = text.count("\n", 0, pos) + 1
        where = f"{path}:{line}"
        status = resolve(status_token, text)
        if status is None:
            unresolved.append(f"{where}: status {status_token} of {code}")
            return
        found.setdefault(code, {}).setdefault(status, []).append(where)

    def resolve(token, text):
        if isinstance(token, int):
            return token
        name = token.split("::")[-1]
        if token.startswith(("bhttp::status::", "status::", "http::status::")):
            return statuses.get(name)
        m = re.search(
            rf"\b{re.escape(token)}\s*=\s*static_cast<\s*bhttp::status\s*>\(\s*(\d+)\s*\)", text
        )
        return int(m.group(1)) if m else None

    for path in sorted(pathlib.Path(src_dir, "src").rglob("*.cpp")):
        rel = path.relative_to(src_dir)
        text = strip_comments(path.read_text())
        patterns = [
            rf"\{{\s*domain::errc::\w+\s*,\s*{STATUS}\s*,\s*{CODE}",
            rf"\bapi_error\s*\(\s*{STATUS}\s*,\s*{CODE}",
            rf"\bproblem\s*(?:\w+\s*)?\{{\s*{STATUS}\s*,\s*{CODE}",
            rf"\banswer_early\s*\(\s*{STATUS}\s*,\s*{CODE}",
        ]
        for pattern in patterns:
            for m in re.finditer(pattern, text):
                add(m.group(2), m.group(1), text, rel, m.start())
        # void NAME(std::string code, ...) { throw http::api_error(STATUS, std::move(code), ...
        for helper in re.finditer(
            rf"\b(\w+)\s*\(\s*std::string\s+code\b[^)]*\)\s*\{{[^}}]*?api_error\s*\(\s*{STATUS}"
            r"\s*,\s*(?:std::move\s*\(\s*)?code\b",
            text,
        ):
            name, status = helper.group(1), helper.group(2)
            for call in re.finditer(rf"\b{name}\s*\(\s*{CODE}", text):
                add(call.group(1), status, text, rel, call.start())
    return found, unresolved


def all_literals(src_dir):
    literals = set()
    for path in pathlib.Path(src_dir, "src").rglob("*"):
        if path.suffix in (".cpp", ".hpp"):
            literals.update(re.findall(CODE, path.read_text()))
    for path in pathlib.Path(src_dir, "include").rglob("*.hpp"):
        literals.update(re.findall(CODE, path.read_text()))
    return literals


def described_codes(doc):
    """[(where, status, codes or None)] for every problem response of every operation."""
    components = doc.get("components", {})

    def deref(obj):
        seen = 0
        while isinstance(obj, dict) and "$ref" in obj and seen < 10:
            kind, name = obj["$ref"].split("/")[-2:]
            obj = components[kind][name]
            seen += 1
        return obj

    def codes_of(schema):
        schema = deref(schema)
        codes = set()
        for part in [schema] + [deref(s) for s in schema.get("allOf", [])]:
            enum = part.get("properties", {}).get("code", {}).get("enum")
            if enum is not None:
                codes.update(enum)
        return codes or None

    out = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            for status, response in op["responses"].items():
                response = deref(response)
                problem = response.get("content", {}).get("application/problem+json")
                if problem is None:
                    continue
                where = f"{method.upper()} {path} {status}"
                out.append((where, int(status), codes_of(problem.get("schema", {}))))
    return out


def generic_answers(doc):
    """(status, code) pairs from the table of answers any route may give (info.description)."""
    text = doc["info"].get("description", "")
    return {(int(s), c) for s, c in re.findall(r"^\|\s*(\d{3})\s*\|\s*`([a-z_]+)`\s*\|", text, re.M)}


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    src_dir, description, beast_header = sys.argv[1:]
    doc = json.loads(pathlib.Path(description).read_text())
    statuses = beast_statuses(beast_header)
    thrown, unresolved = source_codes(src_dir, statuses)
    enum = set(doc["components"]["schemas"]["ProblemCode"]["enum"])
    literals = all_literals(src_dir)
    failures = [f"cannot resolve {u}" for u in unresolved]

    # A guard against the patterns above rotting: the sources throw dozens of codes.
    if len(thrown) < 40:
        failures.append(f"only {len(thrown)} codes found in the sources: the patterns are stale")

    for code in sorted(set(thrown) - enum):
        wheres = [w for ws in thrown[code].values() for w in ws]
        failures.append(f"{code}: thrown ({', '.join(map(str, wheres))}) but not in ProblemCode")
    for code in sorted(enum - literals):
        failures.append(f"{code}: in ProblemCode but nowhere in the sources")

    described = set()
    for where, status, codes in described_codes(doc):
        if codes is None:
            failures.append(f"{where}: a problem response that names no codes")
            continue
        for code in sorted(codes):
            described.add((status, code))
            if code not in enum:
                failures.append(f"{where}: {code} is not in ProblemCode")
            elif code in thrown and status not in thrown[code]:
                failures.append(
                    f"{where}: {code} is thrown with status "
                    f"{', '.join(map(str, sorted(thrown[code])))}, not {status}"
                )

    generic = generic_answers(doc)
    for code, by_status in sorted(thrown.items()):
        for status, wheres in sorted(by_status.items()):
            if (status, code) not in described and (status, code) not in generic:
                failures.append(
                    f"{code} ({status}, {', '.join(map(str, wheres))}): no operation describes it"
                )

    if failures:
        print("docs/openapi.yaml and the sources disagree on problem codes:")
        for f in failures:
            print("  " + f)
        sys.exit(1)
    pairs = sum(len(s) for s in thrown.values())
    print(f"ok: {len(thrown)} codes ({pairs} status/code pairs) thrown, all described")


if __name__ == "__main__":
    main()
