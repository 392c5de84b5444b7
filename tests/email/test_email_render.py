from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sequence_cron.email import mustache
from sequence_cron.email.errors import RenderError
from sequence_cron.email.render import RenderedEmail, compile_template, customer_variables


def render_body(body: str, variables: dict) -> str:
    return compile_template("", body).render(variables).html


def render_subject(subject: str, variables: dict) -> str:
    return compile_template(subject, "").render(variables).subject


def render_error(subject: str | None, body: str | None, variables: dict | None = None, **limits) -> str:
    with pytest.raises(RenderError) as caught:
        compile_template(subject, body, **limits).render(variables or {})
    reason = caught.value.reason
    assert "\n" not in reason
    return reason


def test_render_returns_subject_and_html():
    template = compile_template("Hi {{firstName}}", "<p>Dear {{firstName}}</p>")

    rendered = template.render({"firstName": "Ann"})

    assert rendered == RenderedEmail(subject="Hi Ann", html="<p>Dear Ann</p>")


def test_none_templates_render_empty():
    assert compile_template(None, None).render({"a": 1}) == RenderedEmail(subject="", html="")


def test_body_variable_escaped():
    html = render_body("<p>{{name}}</p>", {"name": "<script>alert('x') & \"y\"</script>"})

    assert html == "<p>&lt;script&gt;alert(&#x27;x&#x27;) &amp; &quot;y&quot;&lt;/script&gt;</p>"


def test_body_triple_mustache_raw():
    assert render_body("{{{link}}}", {"link": "<a href='x'>go</a>"}) == "<a href='x'>go</a>"


def test_body_ampersand_raw():
    assert render_body("{{& link}}", {"link": "<b>&</b>"}) == "<b>&</b>"


def test_subject_not_escaped():
    subject = render_subject("{{name}} & {{{name}}} <{{x}}>", {"name": "Tom & Jerry's", "x": '"q"'})

    assert subject == "Tom & Jerry's & Tom & Jerry's <\"q\">"


def test_missing_variables_render_empty():
    assert render_body("[{{missing}}][{{{missing}}}][{{a.b.c}}]", {"a": {"b": None}}) == "[][][]"


def test_values_formatted():
    variables = {
        "yes": True,
        "no": False,
        "zero": 0,
        "ratio": 1.5,
        "none": None,
        "tags": ["a", "b"],
        "at": datetime(2026, 3, 8, 6, 59, tzinfo=timezone.utc),
    }

    html = render_body("{{yes}} {{no}} {{zero}} {{ratio}} [{{none}}] {{{tags}}} {{at}}", variables)

    assert html == 'true false 0 1.5 [] ["a", "b"] 2026-03-08T06:59:00+00:00'


def test_unicode_round_trip():
    template = compile_template("Привет, {{name}} 👋", "<p>{{name}} — 日本語 {{city}}</p>")

    rendered = template.render({"name": "Zoë", "city": "Köln"})

    assert rendered.subject == "Привет, Zoë 👋"
    assert rendered.html == "<p>Zoë — 日本語 Köln</p>"


def test_section_over_list():
    html = render_body("{{#items}}<li>{{name}} {{firstName}}</li>{{/items}}", {
        "firstName": "Ann",
        "items": [{"name": "tea"}, {"name": "cake"}],
    })

    assert html == "<li>tea Ann</li><li>cake Ann</li>"


def test_section_over_scalar_list():
    assert render_body("{{#tags}}[{{.}}]{{/tags}}", {"tags": ["a", "<b>"]}) == "[a][&lt;b&gt;]"


def test_section_over_mapping_and_truthy_value():
    variables = {"plan": {"name": "pro"}, "vip": True, "name": "Ann"}

    html = render_body("{{#plan}}{{name}}{{/plan}} {{#vip}}VIP {{name}}{{/vip}}", variables)

    assert html == "pro VIP Ann"


@pytest.mark.parametrize("value", [None, False, 0, "", [], {}])
def test_falsy_values_select_inverted(value):
    html = render_body("{{#x}}shown{{/x}}{{^x}}inverted{{/x}}", {"x": value})

    assert html == "inverted"


def test_dotted_name_does_not_fall_back():
    variables = {"b": "outer", "a": {"c": 1}}

    assert render_body("[{{a.b}}]", variables) == "[]"


def test_dotted_name_and_list_index():
    variables = {"address": {"city": "Oslo"}, "items": ["first", "second"]}

    assert render_body("{{address.city}} {{items.1}} {{items.7}}", variables) == "Oslo second "


def test_attributes_not_followed():
    assert render_body("[{{name.upper}}][{{name.__class__}}]", {"name": "ann"}) == "[][]"


def test_comments_delimiters_and_standalone_lines():
    body = "{{! note }}A\n{{#show}}\nB\n{{/show}}\n{{=<% %>=}}<% name %> {{name}}"

    assert render_body(body, {"show": True, "name": "Ann"}) == "A\nB\nAnn {{name}}"


def test_template_parsed_once(monkeypatch):
    calls = []
    original = mustache.tokenize

    def counting_tokenize(template, *args):
        calls.append(template)
        return original(template, *args)

    monkeypatch.setattr(mustache, "tokenize", counting_tokenize)
    template = compile_template("Hi {{name}}", "<p>{{name}}</p>")
    for name in ["Ann", "Bob", "Cy"]:
        template.render({"name": name})

    assert len(calls) == 2


def test_customer_variables_columns_win_over_traits():
    columns = {"firstName": "Ann", "email": "ann@example.com", "lastName": None}
    traits = {"firstName": "Trait", "plan": "pro", "lastName": "Lee"}

    variables = customer_variables(columns, traits)

    assert variables == {"firstName": "Ann", "email": "ann@example.com", "lastName": "Lee", "plan": "pro"}


def test_customer_variables_keep_lone_null():
    assert customer_variables({"phone": None}, {}) == {"phone": None}


@pytest.mark.parametrize("traits", [None, "text", 42, ["a", "b"]])
def test_customer_variables_ignore_non_mapping_traits(traits):
    assert customer_variables({"firstName": "Ann"}, traits) == {"firstName": "Ann"}


def test_customer_variables_do_not_change_inputs():
    columns = {"firstName": "Ann"}
    traits = {"plan": "pro"}

    customer_variables(columns, traits)

    assert traits == {"plan": "pro"}
    assert columns == {"firstName": "Ann"}


@pytest.mark.parametrize(
    ("subject", "body", "reason"),
    [
        ("{{#a}}", "", 'subject: invalid template: Unexpected EOF, the tag "a" was never closed, was opened at line 1'),
        ("", "{{/a}}", 'body: invalid template: Trying to close tag "a", Looks like it was not opened, line 2'),
        ("", "{{#a}}{{/b}}", 'body: invalid template: Trying to close tag "b", last open tag is "a", line 2'),
        ("", "{{name", "body: invalid template: unclosed tag at line 1"),
        ("{{}}", "", "subject: invalid template: empty tag"),
        ("", "{{> footer}}", "body: partial tag {{> footer}} is not supported"),
        ("", "{{{name}}", "body: unclosed triple mustache tag {{{name"),
        ("", "{{=<% %>=}}<%{name}%>", "body: unclosed triple mustache tag {{{name}"),
        ("", "{{{na\nme}}", "body: unclosed triple mustache tag {{{na me"),
        ("", "{{> " + "x" * 50 + "}}", "body: partial tag {{> " + "x" * 37 + "...}} is not supported"),
    ],
)
def test_syntax_errors(subject, body, reason):
    assert render_error(subject, body) == reason


def test_template_over_size_limit():
    reason = render_error("", "x" * 257 * 1024)

    assert reason == "body: template is 263168 bytes, larger than the limit of 262144 bytes"


def test_template_size_counts_utf8_bytes():
    reason = render_error("é" * 6, "", max_template_bytes=10)

    assert reason == "subject: template is 12 bytes, larger than the limit of 10 bytes"


def test_template_at_size_limit_accepted():
    template = compile_template("", "x" * 256 * 1024)

    assert len(template.render({}).html) == 256 * 1024


def test_rendered_result_over_limit():
    template_body = "{{big}}" * 20

    reason = render_error("", template_body, {"big": "x" * 60_000})

    assert reason == "body: rendered result is larger than 1048576 bytes"


def test_rendered_result_limit_counts_utf8_bytes():
    reason = render_error("{{x}}", "", {"x": "é" * 6}, max_output_bytes=10)

    assert reason == "subject: rendered result is larger than 10 bytes"


def test_deep_section_nesting():
    body = "{{#a}}" * 33 + "{{/a}}" * 33

    assert render_error("", body) == "body: sections nested deeper than 32 levels"


def test_nesting_at_limit_accepted():
    body = "{{#a}}" * 32 + "x" + "{{/a}}" * 32

    assert render_body(body, {"a": True}) == "x"


def test_nested_lists_stop_at_step_limit():
    body = "{{#a}}{{#a}}{{#a}}{{/a}}{{/a}}{{/a}}"

    reason = render_error("", body, {"a": list(range(1000))})

    assert reason == "body: rendering needs more than 500000 steps"


def test_lone_surrogate_in_variable():
    reason = render_error("{{x}}", "", {"x": "\ud800"})

    assert reason == "subject: rendered result contains a lone surrogate, which is not valid Unicode"


def test_unrenderable_values():
    class Exploding:
        def __str__(self):
            raise RuntimeError("boom")

    nested: list = []
    for _ in range(5000):
        nested = [nested]

    assert render_error("", "{{x}}", {"x": Exploding()}) == "body: a variable could not be rendered (RuntimeError)"
    assert render_error("", "{{n}}", {"n": 10**5000}) == "body: a variable could not be rendered (ValueError)"
    assert render_error("", "{{{x}}}", {"x": nested}) == "body: a variable could not be rendered (RecursionError)"


# Pieces that make random templates hit the parser's and renderer's edge cases often.
TEMPLATE_PIECES = [
    "{{", "}}", "{{{", "}}}", "{", "}", "{{#", "{{/", "{{^", "{{&", "{{>", "{{!", "{{=", "=}}",
    "{{a}}", "{{{a}}}", "{{& b}}", "{{#a}}", "{{/a}}", "{{^a}}", "{{#b}}", "{{/b}}", "{{#list}}", "{{/list}}",
    "{{.}}", "{{a.b}}", "{{list.0}}", "{{> p}}", "{{! c }}", "{{=<% %>=}}", "<%a%>", "<%#a%>", "<%/a%>",
    "{{= =}}", "{{=a=}}", "\n", " ", "\r\n", "<p>", "&",
]

names = st.sampled_from(["a", "b", "list", "p", "", ".", "0", "c"])
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    # An int too long for str(), built lazily because hypothesis cannot print it either.
    st.just(5000).map(lambda digits: 10**digits),
    st.floats(),
    st.text(max_size=20),
    st.just("\ud800"),
    st.datetimes(),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(names, children, max_size=4),
        st.tuples(children, children),
    ),
    max_leaves=20,
)
templates = st.lists(st.one_of(st.sampled_from(TEMPLATE_PIECES), st.text(max_size=6)), max_size=30).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=templates, body=templates, variables=st.dictionaries(names, values, max_size=5))
def test_fuzz_only_render_error_escapes(subject, body, variables):
    try:
        template = compile_template(subject, body, max_output_bytes=4096, max_render_steps=5000)
        rendered = template.render(variables)
    except RenderError as error:
        assert error.reason.startswith(("subject: ", "body: "))
        assert "\n" not in error.reason
        return
    assert isinstance(rendered.subject, str)
    assert isinstance(rendered.html, str)
    assert len(rendered.html.encode()) <= 4096


@settings(max_examples=200, deadline=None)
@given(text=st.text())
def test_fuzz_plain_text_templates(text):
    try:
        compile_template(text, text).render({"a": [1, 2], "b": {"c": "d"}})
    except RenderError:
        pass
