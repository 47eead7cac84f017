"""Makes model text fit to be spoken, on the fly: what a phone caller must never hear is removed.

- `<thinking>...</thinking>` (Amazon Nova writes it, above all around tool use) is dropped, even
  when a tag is split across deltas.
- Markdown that text-to-speech reads badly becomes plain text: `**`/`*`/`__` emphasis markers,
  backticks, `#` headings and bullet markers at the start of a line.

Text is released as soon as it cannot be the start of a tag or a line marker, so at most a few
characters are held back (`flush()` releases them at the end of the turn).
"""
import re

OPEN, CLOSE = "<thinking>", "</thinking>"
_INLINE = re.compile(r"\*+|`+|(?<!\w)__|__(?!\w)")
_LINE_MARKER = re.compile(r"[ \t]*(?:#{1,6}[ \t]+|[-*+\u2022][ \t]+|>[ \t]*)")
_MARKER_PREFIX = re.compile(r"[ \t]*(?:#{1,6}|[-*+\u2022>])?")  # could still become a line marker


def _partial_tag_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of `tag` (such a suffix starts
    with the tag's first character: only those places are tried, a token without one costs a find)."""
    at = text.find(tag[0], max(0, len(text) - len(tag) + 1))
    while at >= 0:
        if tag.startswith(text[at:]):
            return len(text) - at
        at = text.find(tag[0], at + 1)
    return 0


class SpeechFilter:
    def __init__(self):
        self._pending = ""  # held back: may be the start of a tag
        self._thinking = False
        self._line_start = True
        self._line_pending = ""  # held back at a line start: may be a heading or bullet marker

    def feed(self, delta: str) -> str:
        if not self._pending and not self._thinking and "<" not in delta:  # most tokens: nothing to hold back
            return self._plain(delta)
        text = self._pending + delta
        self._pending = ""
        visible = []
        while text:
            if self._thinking:
                end = text.find(CLOSE)
                if end < 0:
                    self._pending = text[len(text) - _partial_tag_suffix(text, CLOSE):]
                    return self._plain("".join(visible))
                text = text[end + len(CLOSE):]
                self._thinking = False
                continue
            start = text.find(OPEN)
            if start < 0:
                keep = _partial_tag_suffix(text, OPEN)
                visible.append(text[: len(text) - keep])
                self._pending = text[len(text) - keep:]
                break
            visible.append(text[:start])
            text = text[start + len(OPEN):]
            self._thinking = True
        return self._plain("".join(visible))

    def flush(self) -> str:
        rest = "" if self._thinking else self._pending
        self._pending = ""
        return self._plain(rest, final=True)

    def _plain(self, text: str, final: bool = False) -> str:
        """Strip markdown; a line-start marker is decided only once it is whole."""
        if not self._line_start and not self._line_pending and "\n" not in text:  # mid-line: inline markers only
            return _INLINE.sub("", text) if "*" in text or "`" in text or "__" in text else text
        pieces = re.split(r"(\n)", self._line_pending + text)
        self._line_pending = ""
        out = []
        for index, piece in enumerate(pieces):
            if piece == "\n":
                out.append(piece)
                self._line_start = True
                continue
            if not piece or not self._line_start:
                out.append(piece)
                continue
            if _MARKER_PREFIX.match(piece).group(0) == piece and index == len(pieces) - 1 and not final:
                self._line_pending = piece  # only marker-like characters so far: wait for more
                break
            if _LINE_MARKER.match(piece):
                piece = _LINE_MARKER.sub("", piece, count=1)
            self._line_start = False
            out.append(piece)
        return _INLINE.sub("", "".join(out))
