"""Text for the model: HTML to text, and quoted history and signatures cut off.

The model should read what the customer wrote this time, not the whole quoted thread or a
legal footer; the original text is kept separately (``TicketMessage.body_original``), so
these heuristics may err on the side of cutting.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Paragraph-level tags get a blank line around them; line-level ones just end the line
# (Gmail and Outlook wrap every line in a <div>).
_PARA_TAGS = frozenset(
    {"p", "ul", "ol", "table", "pre", "hr", "section", "article", "header", "footer", "dl"}
    | {"address", "center", "form", "fieldset"}
    | {f"h{n}" for n in range(1, 7)}
)
_LINE_TAGS = frozenset({"div", "tr", "li", "dt", "dd"})
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript"})
_QUOTE_OPEN, _QUOTE_CLOSE = "\x00q+", "\x00q-"

# "On Mon, 3 Jun 2024, Ana <ana@x.com> wrote:" in the languages our customers write in.
_ON_WROTE = re.compile(
    r"^\s*(on|le|am|el|il|op|em|w dniu)\b.{0,400}?"
    r"(wrote|a écrit|schrieb|escribió|ha scritto|schreef|escreveu|napisał)\b.{0,200}:\s*$",
    re.IGNORECASE | re.DOTALL,
)
_CJK_WROTE = re.compile(r"^.{0,300}(写道|寫道|のメッセージ)\s*[\uff1a:]\s*$", re.DOTALL)
_ORIGINAL = re.compile(
    r"^\s*-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|"
    r"mensaje original|原始邮件|原始郵件)\s*-{2,}",
    re.IGNORECASE,
)
_FORWARDED = re.compile(r"^\s*-{2,}\s*(forwarded message|weitergeleitete nachricht)", re.I)
_HEADER_FROM = re.compile(r"^\s*\*?(from|von|de|发件人|寄件者)\s*\*?\s*[:\uff1a]", re.IGNORECASE)
_HEADER_NEXT = re.compile(
    r"^\s*\*?(sent|date|to|subject|gesendet|an|betreff|envoyé|à|objet|发送时间|日期|收件人|主题)"
    r"\s*\*?\s*[:\uff1a]",
    re.IGNORECASE,
)
_MOBILE_FOOTER = re.compile(
    r"^\s*(sent from my .{1,40}|get outlook for .{1,30}|发自我的.{1,20}|"
    r"von meinem .{1,40} gesendet|envoyé de mon .{1,40})\s*$",
    re.IGNORECASE,
)
_VALEDICTION = re.compile(
    r"^\s*((best|kind|warm|many)\s+(regards|wishes)|regards|best|cheers|sincerely|"
    r"thanks( a lot| again| in advance)?|thank you( very much)?|br|"
    r"cordialement|saludos|atentamente|mit freundlichen grüßen|viele grüße|lg|"
    r"此致|谢谢|祝好)\s*[,.!\uff0c\u3002]*\s*$",
    re.IGNORECASE,
)


class _TextExtractor(HTMLParser):
    """Collects visible text; blockquotes are marked so they can become '>' lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.pre = 0

    def _break(self, newlines: int) -> None:
        """End the current line (1) or paragraph (2) unless the text already does."""
        tail = "".join(self.parts[-4:]).rstrip(" ")
        have = len(tail) - len(tail.rstrip("\n")) if tail else newlines
        self.parts.append("\n" * max(0, newlines - have))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
        elif tag == "blockquote":
            self.parts.append(f"\n{_QUOTE_OPEN}\n")
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _PARA_TAGS or tag in _LINE_TAGS:
            self._break(2 if tag in _PARA_TAGS else 1)
            self.pre += tag == "pre"
            if tag == "li":
                self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif tag == "blockquote":
            self.parts.append(f"\n{_QUOTE_CLOSE}\n")
        elif tag in _PARA_TAGS or tag in _LINE_TAGS:
            self._break(2 if tag in _PARA_TAGS else 1)
            self.pre = max(0, self.pre - (tag == "pre"))

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data if self.pre else re.sub(r"\s+", " ", data))


def html_to_text(html: str) -> str:
    """Visible text of an HTML mail body, with blockquoted history turned into '>' lines."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser is lenient; this guards against the unforeseen
        return collapse_blank_lines(re.sub(r"<[^>]*>", " ", html))
    depth, lines = 0, []
    for line in "".join(parser.parts).split("\n"):
        if line == _QUOTE_OPEN:
            depth += 1
        elif line == _QUOTE_CLOSE:
            depth = max(0, depth - 1)
        else:
            lines.append("> " * depth + line.strip())
    return collapse_blank_lines("\n".join(lines))


def collapse_blank_lines(text: str) -> str:
    text = "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def strip_reply(text: str) -> str:
    """The new part of a reply: no quoted history, no signature; the whole text if that
    would leave nothing."""
    lines = text.replace("\r\n", "\n").split("\n")
    lines = lines[: _history_start(lines)]
    lines = [line for line in lines if not line.lstrip().startswith(">")]
    lines = lines[: _signature_start(lines)]
    while lines and re.fullmatch(r"\s*_{5,}\s*|\s*", lines[-1]):
        lines.pop()
    cleaned = collapse_blank_lines("\n".join(lines))
    return cleaned or collapse_blank_lines(text)


def _history_start(lines: list[str]) -> int:
    """Index of the first line of quoted history ('On .. wrote:', an Outlook header block)."""
    for i, line in enumerate(lines):
        two = f"{line} {lines[i + 1]}" if i + 1 < len(lines) else line
        if _ORIGINAL.match(line):
            return i
        if _ON_WROTE.match(line) or _CJK_WROTE.match(line):
            return i
        if line.strip() and (_ON_WROTE.match(two) or _CJK_WROTE.match(two)):
            return i
        if _HEADER_FROM.match(line) and not _after_forward_marker(lines, i):
            following = lines[i + 1 : i + 5]
            if sum(bool(_HEADER_NEXT.match(f)) for f in following) >= 2:
                return i
    return len(lines)


def _after_forward_marker(lines: list[str], i: int) -> bool:
    previous = [line for line in lines[:i] if line.strip()]
    return bool(previous) and bool(_FORWARDED.match(previous[-1]))


def _signature_start(lines: list[str]) -> int:
    """Where the signature starts: a '-- ' delimiter, a mobile footer, or a closing such as
    'Best regards,' followed by a few short lines (name, title, phone)."""
    end = len(lines)
    for i, line in enumerate(lines):
        if line.rstrip() in ("--", "-- "):
            end = i
            break
    for i, line in enumerate(lines[:end]):
        if _MOBILE_FOOTER.match(line) and len([x for x in lines[i:end] if x.strip()]) <= 3:
            end = i
            break
    content = [i for i, line in enumerate(lines[:end]) if line.strip()]
    for i in content[-6:]:
        tail = [lines[j] for j in content if j > i]
        if _VALEDICTION.match(lines[i]) and len(tail) <= 4 and all(len(t) <= 60 for t in tail):
            # Keep the closing if it is all the customer wrote ("Thanks!").
            return i if any(j < i for j in content) else end
    return end
