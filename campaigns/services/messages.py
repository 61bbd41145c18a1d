"""Channel message templates: placeholders, rendering and SMS length.

Pure functions, no database. A template is text with the placeholders
``{name}``, ``{campaign}`` and ``{link}``; ``{{`` and ``}}`` stand for literal
braces. Rendering never uses ``str.format`` (which would evaluate ``{name.attr}``
or ``{0[key]}``): a template names a placeholder or is refused.

SMS length follows 3GPP TS 23.038 / 23.040: text made only of GSM 03.38
characters travels in GSM-7 (160 septets in one message, 153 per part of a
concatenated one, an extension character such as ``€`` or ``{`` taking two
septets); anything else, Chinese included, makes the whole message UCS-2
(70 UTF-16 units in one message, 67 per part). A part never splits an escape
sequence or a surrogate pair, so a part may hold one unit less.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

PLACEHOLDERS = ("name", "campaign", "link")

GSM7 = "GSM-7"
UCS2 = "UCS-2"

# GSM 03.38 default alphabet (without the escape code 0x1B) and its extension table.
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE_LIMIT = {GSM7: 160, UCS2: 70}
PART_LIMIT = {GSM7: 153, UCS2: 67}

# Shown in the live example; a customer's name is usually Chinese, which makes
# the real SMS UCS-2, so the example counts what customers will actually get.
SAMPLE_NAME = "张伟"
SAMPLE_LINK = "https://m.bank.example/c/LTR-20260101-AB12"


@dataclass(frozen=True)
class _Token:
    literal: str = ""
    placeholder: str | None = None


def _tokens(template: str) -> tuple[list[_Token], list[str]]:
    """Split a template into literal text and placeholders, and list every problem."""
    tokens: list[_Token] = []
    problems: list[str] = []
    unknown: list[str] = []
    literal: list[str] = []
    i, n = 0, len(template)
    while i < n:
        char = template[i]
        if char == "{" and template.startswith("{{", i):
            literal.append("{")
            i += 2
        elif char == "}" and template.startswith("}}", i):
            literal.append("}")
            i += 2
        elif char == "{":
            close = template.find("}", i + 1)
            reopen = template.find("{", i + 1)
            if close == -1 or (reopen != -1 and reopen < close):
                problems.append(
                    _("The brace “{” at character %(position)s is never closed.") % {"position": i + 1}
                )
                i += 1
                continue
            name = template[i + 1 : close]
            if name in PLACEHOLDERS:
                if literal:
                    tokens.append(_Token(literal="".join(literal)))
                    literal = []
                tokens.append(_Token(placeholder=name))
            elif "{" + name + "}" not in unknown:
                unknown.append("{" + name + "}")
            i = close + 1
        elif char == "}":
            problems.append(_("The brace “}” at character %(position)s has no opening “{”.") % {"position": i + 1})
            i += 1
        else:
            literal.append(char)
            i += 1
    if literal:
        tokens.append(_Token(literal="".join(literal)))
    if unknown:
        problems.insert(
            0,
            _("Unknown placeholder: %(names)s. Use %(known)s.")
            % {"names": ", ".join(unknown), "known": ", ".join("{" + p + "}" for p in PLACEHOLDERS)},
        )
    return tokens, problems


def template_problems(template: str) -> list[str]:
    """Every problem of a template (unknown placeholders, unbalanced braces), or []."""
    return _tokens(template)[1]


def validate_template(template: str) -> None:
    """Raise ValidationError naming every unknown placeholder and stray brace."""
    problems = template_problems(template)
    if problems:
        raise ValidationError(problems, code="invalid_template")


def placeholders_used(template: str) -> list[str]:
    """The known placeholders a template uses, in order of first use."""
    seen: list[str] = []
    for token in _tokens(template)[0]:
        if token.placeholder and token.placeholder not in seen:
            seen.append(token.placeholder)
    return seen


def render(template: str, *, name: str, campaign: str, link: str) -> str:
    """The message for one customer; ValidationError for a template with problems."""
    tokens, problems = _tokens(template)
    if problems:
        raise ValidationError(problems, code="invalid_template")
    values = {"name": name, "campaign": campaign, "link": link}
    return "".join(values[t.placeholder] if t.placeholder else t.literal for t in tokens)


def sms_encoding(text: str) -> str:
    return GSM7 if all(c in _GSM_BASIC or c in _GSM_EXTENSION for c in text) else UCS2


def _widths(text: str, encoding: str) -> list[int]:
    if encoding == GSM7:
        return [2 if c in _GSM_EXTENSION else 1 for c in text]
    return [2 if ord(c) > 0xFFFF else 1 for c in text]  # UTF-16 surrogate pairs


def sms_segments(text: str) -> tuple[int, int, str]:
    """(characters, segments, encoding) of an SMS.

    ``characters`` counts what the limits count: septets for GSM-7 (an
    extension character is two), UTF-16 units for UCS-2. Empty text is no
    message: (0, 0, "GSM-7").
    """
    encoding = sms_encoding(text)
    widths = _widths(text, encoding)
    characters = sum(widths)
    if characters == 0:
        return 0, 0, encoding
    if characters <= SINGLE_LIMIT[encoding]:
        return characters, 1, encoding
    part, segments, used = PART_LIMIT[encoding], 1, 0
    for width in widths:
        if used + width > part:
            segments += 1
            used = 0
        used += width
    return characters, segments, encoding


@dataclass
class Counter:
    """What the live counter beside a channel's template shows."""

    channel: str
    template: str
    problems: list[str] = field(default_factory=list)
    example: str = ""
    characters: int = 0  # of the example (septets or UTF-16 units for SMS, characters otherwise)
    segments: int = 0
    encoding: str = ""
    placeholders: list[str] = field(default_factory=list)

    @property
    def is_sms(self) -> bool:
        return self.channel == "sms"

    @property
    def per_part(self) -> int:
        if not self.encoding:
            return 0
        return SINGLE_LIMIT[self.encoding] if self.segments <= 1 else PART_LIMIT[self.encoding]


def counter(*, template: str, channel: str, campaign: str = "") -> Counter:
    """Problems, the example rendered with sample values, and its length (and
    SMS parts and encoding for the SMS channel)."""
    result = Counter(channel=channel, template=template)
    result.problems = template_problems(template)
    result.placeholders = placeholders_used(template)
    if result.problems:
        return result
    result.example = render(
        template, name=SAMPLE_NAME, campaign=campaign or _("Spring lottery"), link=SAMPLE_LINK
    )
    if channel == "sms":
        result.characters, result.segments, result.encoding = sms_segments(result.example)
    else:
        result.characters = len(result.example)
    return result
