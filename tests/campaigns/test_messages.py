"""Channel message templates: placeholders, rendering, and SMS length and parts
(GSM-7 against UCS-2). Pure functions: no database."""

import pytest
from django.core.exceptions import ValidationError

from campaigns.services import messages

# --- SMS length ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (0, 0, "GSM-7")),
        ("a" * 160, (160, 1, "GSM-7")),
        ("a" * 161, (161, 2, "GSM-7")),
        ("a" * 306, (306, 2, "GSM-7")),
        ("a" * 307, (307, 3, "GSM-7")),
        ("Über £5 @ Café Ñ §ÆØÅ ¿ñ?", (25, 1, "GSM-7")),
        ("€" * 80, (160, 1, "GSM-7")),
        ("€" * 81, (162, 2, "GSM-7")),
        ("{x} [y] ~^|\\", (20, 1, "GSM-7")),  # 12 characters, 8 of them take two septets
        ("你" * 70, (70, 1, "UCS-2")),
        ("你" * 71, (71, 2, "UCS-2")),
        ("你" * 134, (134, 2, "UCS-2")),
        ("你" * 135, (135, 3, "UCS-2")),
        ("Hello 你好", (8, 1, "UCS-2")),
        ("a" * 159 + "你", (160, 3, "UCS-2")),
        ("á" * 10, (10, 1, "UCS-2")),
        ("😀" * 35, (70, 1, "UCS-2")),
        ("😀" * 36, (72, 2, "UCS-2")),
    ],
    ids=[
        "empty", "ascii-160", "ascii-161", "ascii-306", "ascii-307", "gsm-accents", "euro-80", "euro-81",
        "gsm-extension", "chinese-70", "chinese-71", "chinese-134", "chinese-135", "mixed", "one-chinese-char",
        "non-gsm-accent", "emoji-35", "emoji-36",
    ],
)
def test_sms_segments_count_characters_parts_and_encoding(text, expected):
    assert messages.sms_segments(text) == expected


def test_a_part_never_splits_a_gsm_escape_sequence():
    # 152 + 2 + 152 = 306 septets would fit two parts of 153, but "€" cannot straddle the
    # parts, so the first part holds 152 and a third part is needed.
    assert messages.sms_segments("a" * 152 + "€" + "a" * 152) == (306, 3, "GSM-7")


def test_a_part_never_splits_a_surrogate_pair():
    assert messages.sms_segments("a" * 66 + "😀" + "a" * 66) == (134, 3, "UCS-2")
    assert messages.sms_segments("a" * 65 + "😀" + "a" * 67) == (134, 2, "UCS-2")


# --- placeholders and rendering ------------------------------------------------------------


def test_render_fills_every_placeholder_as_often_as_it_appears():
    text = messages.render(
        "{name}, join {campaign}: {link} ({name})", name="张伟", campaign="Spring draw", link="https://x.example/c"
    )
    assert text == "张伟, join Spring draw: https://x.example/c (张伟)"


def test_doubled_braces_are_literal_braces():
    assert messages.render("{{name}} is {name}", name="Li", campaign="c", link="l") == "{name} is Li"
    messages.validate_template("{{ not a placeholder }}")


def test_values_are_inserted_as_they_are_never_formatted_again():
    assert messages.render("{name}", name="{link}", campaign="c", link="l") == "{link}"


def test_validate_template_accepts_known_placeholders_and_plain_text():
    messages.validate_template("Dear {name}, {campaign} is live: {link}")
    messages.validate_template("No placeholders at all.")
    messages.validate_template("")


def test_unknown_placeholders_are_named_once_each():
    with pytest.raises(ValidationError) as caught:
        messages.validate_template("Hi {nmae}, {0} {name.__class__} {nmae} {}")
    [problem] = caught.value.messages
    assert "{nmae}, {0}, {name.__class__}, {}" in problem
    assert "{name}, {campaign}, {link}" in problem


def test_an_opening_brace_never_closed_is_named_with_its_position():
    with pytest.raises(ValidationError) as caught:
        messages.validate_template("Hi {name")
    assert caught.value.messages == ["The brace “{” at character 4 is never closed."]


def test_a_brace_opened_again_before_closing_is_unbalanced():
    assert messages.template_problems("{na{name}") == ["The brace “{” at character 1 is never closed."]


def test_a_closing_brace_without_an_opening_one_is_named_with_its_position():
    assert messages.template_problems("name} and {link}") == ["The brace “}” at character 5 has no opening “{”."]


def test_render_refuses_a_template_with_problems():
    with pytest.raises(ValidationError, match="Unknown placeholder"):
        messages.render("Hi {customer}", name="a", campaign="b", link="c")


def test_placeholders_used_lists_each_known_one_in_order():
    assert messages.placeholders_used("{link} {name} {link} {bad}") == ["link", "name"]


# --- the counter -------------------------------------------------------------------------------


def test_the_sms_counter_counts_the_example_with_a_chinese_sample_name():
    result = messages.counter(template="Hi {name}, {campaign}: {link}", channel="sms", campaign="Spring")
    assert result.problems == []
    assert result.example == f"Hi 张伟, Spring: {messages.SAMPLE_LINK}"
    assert (result.characters, result.segments, result.encoding) == (len(result.example), 1, "UCS-2")
    assert result.per_part == 70


def test_the_sms_counter_shows_gsm_7_when_every_character_allows_it():
    result = messages.counter(template="Join {campaign}: {link}", channel="sms", campaign="Spring")
    assert (result.encoding, result.segments, result.per_part) == ("GSM-7", 1, 160)


def test_the_counter_of_another_channel_counts_characters_only():
    result = messages.counter(template="{name}好", channel="app")
    assert (result.characters, result.segments, result.encoding) == (3, 0, "")


def test_the_counter_reports_problems_and_no_example():
    result = messages.counter(template="Hi {nmae", channel="sms")
    assert result.problems and result.example == "" and result.segments == 0
