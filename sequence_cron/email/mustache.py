"""A Mustache interpreter with limits on nesting, output size and work.

chevron's tokenizer parses the template once into a tree, and this module renders the tree
for each customer. It does not use chevron.render, which reads partials from the file
system, follows Python attributes such as `{{name.upper}}`, calls callables found in the
data, and can check the output size only after building all of it. Here partials are
rejected, and names resolve only through mapping keys and list indexes. Rendering stops as
soon as the output or the number of steps passes its limit.
"""

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time

from chevron.tokenizer import ChevronError, tokenize


class TemplateError(Exception):
    """A template is invalid or passed a limit while rendering. The message is one line."""


@dataclass(frozen=True, slots=True)
class Variable:
    """A `{{name}}` tag (escaped) or a `{{{name}}}` or `{{& name}}` tag (raw)."""

    path: tuple[str, ...]  # empty for `{{.}}`, the current item
    escaped: bool


@dataclass(frozen=True, slots=True)
class Section:
    """A `{{#name}}...{{/name}}` section, or a `{{^name}}...{{/name}}` one when inverted."""

    path: tuple[str, ...]
    inverted: bool
    children: tuple["Node", ...]


Node = str | Variable | Section


def parse(template: str, *, max_depth: int) -> tuple[Node, ...]:
    """Parse a Mustache template into a tree of text, variables and sections.

    Raises:
        TemplateError: the template has a syntax error, a partial tag (`{{> name}}`), or
            sections nested deeper than `max_depth`.
    """
    try:
        tokens = list(tokenize(template))
    except ChevronError as error:
        raise TemplateError(f"invalid template: {_one_line(str(error))}") from error
    except IndexError as error:
        # chevron 0.14 indexes the first character of the tag name, which fails for `{{}}`.
        raise TemplateError("invalid template: empty tag") from error

    # Each open section is (path, inverted, children). The bottom entry collects the top level.
    open_sections: list[tuple[tuple[str, ...], bool, list[Node]]] = [((), False, [])]
    for kind, key in tokens:
        children = open_sections[-1][2]
        if kind == "literal":
            children.append(key)
        elif kind == "variable":
            children.append(Variable(_path(key), escaped=True))
        elif kind == "no escape":
            children.append(Variable(_path(key), escaped=False))
        elif kind in ("section", "inverted section"):
            if len(open_sections) > max_depth:
                raise TemplateError(f"sections nested deeper than {max_depth} levels")
            open_sections.append((_path(key), kind == "inverted section", []))
        elif kind == "end":
            # chevron has already checked that each end tag closes the innermost open section.
            path, inverted, section_children = open_sections.pop()
            open_sections[-1][2].append(Section(path, inverted, tuple(section_children)))
        elif kind == "partial":
            raise TemplateError(f"partial tag {{{{> {_excerpt(key)}}}}} is not supported")
        elif kind == "no escape?":
            # chevron's kind for a `{{{` tag that is not closed by `}}}`.
            raise TemplateError(f"unclosed triple mustache tag {{{{{{{_excerpt(key)}")
        # Comments and delimiter changes leave nothing to render.
    return tuple(open_sections[0][2])


class Renderer:
    """Renders one parsed template for one set of variables, within fixed limits."""

    def __init__(self, *, escape_html: bool, max_output_bytes: int, max_steps: int):
        self._escape_html = escape_html
        self._max_output_bytes = max_output_bytes
        self._max_steps = max_steps
        self._chars = 0
        self._steps = 0
        self._output: list[str] = []

    def render(self, nodes: tuple[Node, ...], variables: object) -> str:
        """Render `nodes` with `variables` as the outermost context.

        Raises:
            TemplateError: the output is larger than `max_output_bytes` in UTF-8 or contains
                a lone surrogate, or rendering passed `max_steps` steps. A step is one node
                visited or one list item iterated.
        """
        self._render_nodes(nodes, [variables])
        output = "".join(self._output)
        try:
            size = len(output.encode("utf-8"))
        except UnicodeEncodeError as error:
            raise TemplateError("rendered result contains a lone surrogate, which is not valid Unicode") from error
        if size > self._max_output_bytes:
            raise TemplateError(f"rendered result is larger than {self._max_output_bytes} bytes")
        return output

    def _render_nodes(self, nodes: tuple[Node, ...], context: list[object]) -> None:
        for node in nodes:
            self._count_step()
            if isinstance(node, str):
                self._write(node)
            elif isinstance(node, Variable):
                text = format_value(lookup(context, node.path))
                self._write(html.escape(text) if node.escaped and self._escape_html else text)
            else:
                self._render_section(node, context)

    def _render_section(self, section: Section, context: list[object]) -> None:
        value = lookup(context, section.path)
        if section.inverted:
            if not value:
                self._render_nodes(section.children, context)
            return
        if not value:
            return

        items = value if isinstance(value, (list, tuple)) else (value,)
        for item in items:
            self._count_step()
            context.append(item)
            self._render_nodes(section.children, context)
            context.pop()

    def _write(self, text: str) -> None:
        # A character takes at least one byte in UTF-8, so counting characters stops an
        # oversized result early without encoding every piece.
        self._chars += len(text)
        if self._chars > self._max_output_bytes:
            raise TemplateError(f"rendered result is larger than {self._max_output_bytes} bytes")
        self._output.append(text)

    def _count_step(self) -> None:
        self._steps += 1
        if self._steps > self._max_steps:
            raise TemplateError(f"rendering needs more than {self._max_steps} steps")


def lookup(context: list[object], path: tuple[str, ...]) -> object:
    """Resolve a dotted name as the Mustache spec does, or return None when it is missing.

    The first part is looked up in each context from the innermost outwards. The other
    parts are looked up only inside the value found, so `{{a.b}}` never falls back to an
    outer `b`. Only mapping keys and list indexes are followed, never Python attributes.
    """
    if not path:
        return context[-1]

    first, rest = path[0], path[1:]
    for scope in reversed(context):
        if isinstance(scope, Mapping) and first in scope:
            value = scope[first]
            break
    else:
        return None

    for part in rest:
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, (list, tuple)) and part.isdecimal() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def format_value(value: object) -> str:
    """Convert a variable's value to the text that replaces its tag.

    None is empty, booleans are true and false, dates and times are ISO 8601, lists and
    mappings are JSON, and anything else is str(value).
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (list, tuple, Mapping)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _path(key: str) -> tuple[str, ...]:
    return () if key == "." else tuple(key.split("."))


def _excerpt(key: str) -> str:
    """Return a tag name on one line, cut to 40 characters, for an error message."""
    key = " ".join(key.split())
    return key if len(key) <= 40 else key[:37] + "..."


def _one_line(text: str) -> str:
    return ", ".join(line.strip().rstrip(".") for line in text.splitlines() if line.strip())
