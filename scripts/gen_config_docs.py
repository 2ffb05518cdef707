"""Generate the settings tables of ``docs/configuration.md`` from ``callcenter.config.Settings``.

Walks ``Settings`` (nested models included) and writes, for every setting, its dotted name, the
environment variable (``CALLCENTER_X__Y``), the type, the default and the field description, between
the markers ``<!-- BEGIN GENERATED SETTINGS -->`` and ``<!-- END GENERATED SETTINGS -->``. The prose
around the markers is hand-written and kept.

    .venv/bin/python scripts/gen_config_docs.py           # rewrite docs/configuration.md
    .venv/bin/python scripts/gen_config_docs.py --check   # exit 1 when the file is out of date

A setting without a description is an error: every setting must be documented
(``Field(default=..., description="...")`` in ``callcenter/config.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from callcenter.config import PROJECT_ROOT, Settings  # noqa: E402

DOC = ROOT / "docs" / "configuration.md"
BEGIN = "<!-- BEGIN GENERATED SETTINGS (scripts/gen_config_docs.py; do not edit by hand) -->"
END = "<!-- END GENERATED SETTINGS -->"
ENV_PREFIX = "CALLCENTER_"
ENV_DELIMITER = "__"


class UndocumentedSetting(Exception):
    """A setting has no ``description``."""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " | ".join(str(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def _default(info: FieldInfo) -> str:
    value = info.get_default(call_default_factory=True)
    root = str(PROJECT_ROOT)
    if isinstance(value, Path):
        text = str(value)
    elif isinstance(value, str):
        text = value
        if not text:
            return '`""` (empty)'
    elif isinstance(value, (list, tuple, dict)):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = repr(value)
    text = text.replace(root, "<checkout>")
    return f"`{text}`"


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _rows(model: type[BaseModel], prefix: tuple[str, ...]) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for name, info in model.model_fields.items():
        if _is_model(info.annotation):
            continue
        path = (*prefix, name)
        if not info.description:
            raise UndocumentedSetting(
                f"setting {'.'.join(path)} has no description: add "
                f'Field(default=..., description="...") in callcenter/config.py'
            )
        env = ENV_PREFIX + ENV_DELIMITER.join(p.upper() for p in path)
        rows.append((".".join(path), env, _type_name(info.annotation), _default(info), info.description))
    return rows


def _table(rows: list[tuple[str, str, str, str, str]]) -> list[str]:
    lines = [
        "| setting | environment variable | type | default | meaning |",
        "| --- | --- | --- | --- | --- |",
    ]
    for setting, env, type_, default, description in rows:
        lines.append(f"| `{setting}` | `{env}` | {_cell(type_)} | {_cell(default)} | {_cell(description)} |")
    return lines


def render() -> str:
    """The generated block (markers included)."""
    out = [BEGIN, "", "### Top level", ""]
    out += _table(_rows(Settings, ()))
    for name, info in Settings.model_fields.items():
        annotation = info.annotation
        if not _is_model(annotation):
            continue
        assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
        doc = (annotation.__doc__ or "").strip()
        out += ["", f"### `{name}` — {doc.splitlines()[0] if doc else name}", ""]
        rest = " ".join(line.strip() for line in doc.splitlines()[1:] if line.strip())
        if rest:
            out += [rest, ""]
        out += _table(_rows(annotation, (name,)))
    out += ["", END]
    return "\n".join(out)


def update(text: str) -> str:
    """``text`` with the generated block replaced (appended when the markers are missing)."""
    block = render()
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        return head + block + tail
    return text.rstrip("\n") + "\n\n" + block + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the document is out of date")
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args(argv)
    current = args.doc.read_text(encoding="utf-8")
    wanted = update(current)
    if args.check:
        if wanted != current:
            print(f"{args.doc} is out of date: run scripts/gen_config_docs.py", file=sys.stderr)
            return 1
        print(f"{args.doc} is up to date")
        return 0
    if wanted != current:
        args.doc.write_text(wanted, encoding="utf-8")
        print(f"wrote {args.doc}")
    else:
        print(f"{args.doc} unchanged")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
