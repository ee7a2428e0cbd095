"""ui.state.escape_markdown: user text shows as typed (issue 13, item 2). The browser test
tests/test_browser_user_text.py checks what Chromium renders; this checks the text itself."""

from ui.state import escape_markdown


def test_autolinks_get_a_word_joiner_and_markup_is_escaped():
    cases = {"https://evil.example/x": "https\u2060://evil.example/x", "www.evil.example": "www\u2060.evil.example",
             "a@evil.example": "a\u2060@evil.example", "mailto:a@b.c": "mailto\u2060:a\u2060@b.c",
             "HTTP://X.ORG": "HTTP\u2060://X.ORG", "plain 1.5 text": "plain 1.5 text"}
    for text, joined in cases.items():
        assert escape_markdown(text).replace("\\", "") == joined, text
    assert escape_markdown("![i](x) *b*") == "\\!\\[i\\]\\(x\\) \\*b\\*"
