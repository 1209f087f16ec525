"""The plain-text writer: Markdown token stream → text written for reading."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from service.issues.markdown import render_markdown
from service.issues.text import markdown_to_text


def test_paragraphs_lists_quotes_code_and_links() -> None:
    source = (
        "Första stycket är så pass långt att det måste brytas någonstans innan "
        "sjuttiotvå tecken har passerat.\n\n"
        "- ett\n- två med [länk](https://sfhalland.se/x)\n  - inne i listan\n\n"
        "3. tre\n4. fyra\n\n"
        "> Ett citat\n> på två rader\n\n"
        "    kod rad 1\n    kod rad 2\n\n"
        "Rad ett  \nrad två och <https://sfhalland.se/> och [e-post](mailto:a@b.se)\n\n"
        "---\n\n"
        "**Fet** och *kursiv* text."
    )
    assert markdown_to_text(source) == (
        "Första stycket är så pass långt att det måste brytas någonstans innan\n"
        "sjuttiotvå tecken har passerat.\n"
        "\n"
        "- ett\n"
        "- två med länk <https://sfhalland.se/x>\n"
        "  - inne i listan\n"
        "\n"
        "3. tre\n"
        "4. fyra\n"
        "\n"
        "> Ett citat på två rader\n"
        "\n"
        "    kod rad 1\n"
        "    kod rad 2\n"
        "\n"
        "Rad ett\n"
        "rad två och <https://sfhalland.se/> och e-post <mailto:a@b.se>\n"
        "\n"
        "* * *\n"
        "\n"
        "Fet och kursiv text."
    )


def test_long_urls_are_never_broken() -> None:
    url = "https://sfhalland.se/" + "a" * 100
    text = markdown_to_text(f"Se [rapporten]({url}) för mer.")
    assert f"<{url}>" in text


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab *_-#>[]()<>!`\n&:/.1\"'")), max_size=200))
def test_any_markdown_renders_safely(source: str) -> None:
    html = render_markdown(source)
    assert "<script" not in html.lower()
    assert "javascript:" not in html.lower() or "href" not in html.lower()
    text = markdown_to_text(source)
    assert "\r" not in text
    for line in text.splitlines():
        assert len(line) <= 72 or " " not in line.strip() or "<" in line
