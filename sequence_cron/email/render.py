"""Mustache rendering of an email template's subject and HTML body for one customer.

Compile a template once with compile_template, then call render for each customer with
the variables from customer_variables. In the body, `{{name}}` is HTML-escaped while
`{{{name}}}` and `{{& name}}` are inserted raw. The subject is a header, not HTML, so
nothing in it is escaped. A missing variable renders as empty text.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from sequence_cron.email.errors import RenderError
from sequence_cron.email.mustache import Node, Renderer, TemplateError, parse

DEFAULT_MAX_TEMPLATE_BYTES = 256 * 1024
DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024
DEFAULT_MAX_SECTION_DEPTH = 32
# Far above what a 256 KiB template over a few lists needs. Reaching it took about 0.2 s
# on one 2-core AMD EPYC machine (nested list sections), an estimate of the worst stall.
DEFAULT_MAX_RENDER_STEPS = 500_000


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """The subject and HTML body rendered for one customer."""

    subject: str
    html: str


@dataclass(frozen=True, slots=True)
class CompiledTemplate:
    """A parsed subject and body, ready to render for many customers."""

    subject_nodes: tuple[Node, ...]
    body_nodes: tuple[Node, ...]
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    max_render_steps: int = DEFAULT_MAX_RENDER_STEPS

    def render(self, variables: Mapping[str, object]) -> RenderedEmail:
        """Render the subject and body with `variables`.

        Raises:
            RenderError: a rendered result is over `max_output_bytes` in UTF-8, contains a
                lone surrogate, or needed more than `max_render_steps` steps. This is the
                only exception that render raises, whatever the variables contain.
        """
        subject = self._render_part("subject", self.subject_nodes, variables, escape_html=False)
        html = self._render_part("body", self.body_nodes, variables, escape_html=True)
        return RenderedEmail(subject=subject, html=html)

    def _render_part(
        self,
        part: str,
        nodes: tuple[Node, ...],
        variables: Mapping[str, object],
        *,
        escape_html: bool,
    ) -> str:
        renderer = Renderer(
            escape_html=escape_html,
            max_output_bytes=self.max_output_bytes,
            max_steps=self.max_render_steps,
        )
        try:
            return renderer.render(nodes, variables)
        except TemplateError as error:
            raise RenderError(f"{part}: {error}") from error
        except Exception as error:
            # Values come from customer data: a number too long for str(), a structure
            # nested too deep for JSON, or an object whose __str__ or __bool__ raises.
            raise RenderError(f"{part}: a variable could not be rendered ({type(error).__name__})") from error


def compile_template(
    subject: str | None,
    body_html: str | None,
    *,
    max_template_bytes: int = DEFAULT_MAX_TEMPLATE_BYTES,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    max_section_depth: int = DEFAULT_MAX_SECTION_DEPTH,
    max_render_steps: int = DEFAULT_MAX_RENDER_STEPS,
) -> CompiledTemplate:
    """Parse a template's subject and HTML body once. None counts as an empty template.

    Raises:
        RenderError: the subject or body is over `max_template_bytes` in UTF-8, has a
            Mustache syntax error or a partial tag, or nests sections deeper than
            `max_section_depth`. The reason starts with "subject" or "body".
    """
    return CompiledTemplate(
        subject_nodes=_parse_part("subject", subject or "", max_template_bytes, max_section_depth),
        body_nodes=_parse_part("body", body_html or "", max_template_bytes, max_section_depth),
        max_output_bytes=max_output_bytes,
        max_render_steps=max_render_steps,
    )


def customer_variables(columns: Mapping[str, object], traits: object) -> dict[str, object]:
    """Merge a customer's columns (by camelCase name) and traits into template variables.

    Traits are applied first, and a column that is not null replaces a trait of the same
    name. A null column is kept only where no trait has its name. `traits` that is None
    or not a mapping is ignored.
    """
    variables: dict[str, object] = dict(traits) if isinstance(traits, Mapping) else {}
    for name, value in columns.items():
        if value is not None or name not in variables:
            variables[name] = value
    return variables


def _parse_part(part: str, template: str, max_template_bytes: int, max_section_depth: int) -> tuple[Node, ...]:
    # surrogatepass lets a lone surrogate be counted here, and rendering reports it.
    size = len(template.encode("utf-8", "surrogatepass"))
    if size > max_template_bytes:
        raise RenderError(f"{part}: template is {size} bytes, larger than the limit of {max_template_bytes} bytes")
    try:
        return parse(template, max_depth=max_section_depth)
    except TemplateError as error:
        raise RenderError(f"{part}: {error}") from error
    except Exception as error:
        # The contract is that only RenderError leaves, and chevron may raise others.
        raise RenderError(f"{part}: invalid template ({type(error).__name__})") from error

