"""The anonymiser: runs the detectors, cuts kept phrases out, merges spans, renders labels."""

from __future__ import annotations

from knowledge.anonymise import contact, dates, institutions, numbers, places
from knowledge.anonymise.names import NameFinder
from knowledge.anonymise.spans import INSTELLING, NAAM, Span, merge, render, trim_punctuation
from knowledge.anonymise.tokens import TOKEN_RE, tokenise
from knowledge.anonymise.words import fold, keep_phrase_re, load

# Every list the detectors read, loaded when the anonymiser is built rather than mid-job.
_LISTS = (
    "keep", "stop", "ambiguous", "names_in_dutch_text", "names_in_english_text", "nl_markers",
    "en_markers", "first_names", "first_names_extra", "surnames", "places", "streets",
    "cap_only_first", "cap_not_name", "interfix", "role_cues", "common_nouns", "titles",
    "naming_cues", "speech_verbs", "reporting_verbs", "sentence_openers", "non_person_nouns",
    "determiners", "generic_school", "safe_domains", "social_hosts",
)


class Anonymiser:
    """Replace personal data in Dutch or English text with typed placeholders."""

    def __init__(self) -> None:
        """Read the word lists once (about 0.2 s and 20 MB)."""
        for name in _LISTS:
            load(name)
        self._names = NameFinder()
        self._keep_phrase_re = keep_phrase_re()

    def anonymise(self, text: str) -> str:
        """Return text with every detected piece of personal data replaced by a placeholder."""
        if not text or text.isspace():
            return text
        tokens = tokenise(text)
        spans: list[Span] = []
        spans += contact.find(text)
        spans += numbers.find(text)
        spans += dates.find(text)
        spans += places.find(text)
        spans += institutions.find(text, tokens)
        spans += self._names.find(text, tokens)
        spans = [trim_punctuation(text, span) for span in self._protect(text, spans)]
        return render(text, merge(spans))

    def _protect(self, text: str, spans: list[Span]) -> list[Span]:
        """Cut protected phrases such as 'Veilig Thuis' out of name and institution spans."""
        protected = [(m.start(), m.end()) for m in self._keep_phrase_re.finditer(text)]
        if not protected:
            return spans
        keep, stop, interfix = load("keep"), load("stop"), load("interfix")
        result: list[Span] = []
        for span in spans:
            if span.label not in (NAAM, INSTELLING):
                result.append(span)
                continue
            pieces = [(span.start, span.end)]
            for p_start, p_end in protected:
                next_pieces = []
                for s, e in pieces:
                    if p_end <= s or p_start >= e:
                        next_pieces.append((s, e))
                        continue
                    if s < p_start:
                        next_pieces.append((s, p_start))
                    if p_end < e:
                        next_pieces.append((p_end, e))
                pieces = next_pieces
            for s, e in pieces:
                words = [fold(w) for w in TOKEN_RE.findall(text[s:e])]
                content = [w for w in words if w not in stop and w not in interfix]
                if content and not all(w in keep for w in content):
                    stripped = text[s:e]
                    s += len(stripped) - len(stripped.lstrip(" ,.;:-"))
                    e -= len(stripped) - len(stripped.rstrip(" ,.;:-"))
                    result.append(Span(s, e, span.label, span.weak))
        return result
