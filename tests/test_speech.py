"""What the caller hears: no <thinking>, no markdown, whatever way the deltas are split."""
import pytest

from agent.speech import SpeechFilter


def spoken(deltas):
    speech = SpeechFilter()
    parts = [speech.feed(delta) for delta in deltas] + [speech.flush()]
    return "".join(parts), parts


def every_split(text):
    """The text cut into 1-, 2- and 3-character deltas and at every single position."""
    yield [text]
    for size in (1, 2, 3):
        yield [text[i:i + size] for i in range(0, len(text), size)]
    for cut in range(1, len(text)):
        yield [text[:cut], text[cut:]]


CASES = [
    ("<thinking>The user wants loans.</thinking>We have three loans.", "We have three loans."),
    ("Sure. <thinking>check</thinking> Your card is blocked.", "Sure.  Your card is blocked."),
    ("**Home loan**: from *5.49%*, use `the app`.", "Home loan: from 5.49%, use the app."),
    ("## Loans\n- Personal loan\n- Car loan\n* Home loan", "Loans\nPersonal loan\nCar loan\nHome loan"),
    ("Rates are 3 - 5 percent, a < b.", "Rates are 3 - 5 percent, a < b."),
    ("<thinking>only thoughts</thinking>", ""),
    ("1. First\n2. Second", "1. First\n2. Second"),
]


@pytest.mark.parametrize("text,expected", CASES)
def test_clean_for_any_split(text, expected):
    for deltas in every_split(text):
        assert spoken(deltas)[0] == expected, deltas


def test_text_is_released_without_waiting_for_the_end():
    speech = SpeechFilter()
    assert speech.feed("Hello there") == "Hello there"
    assert speech.feed(" <thin") == " "
    assert speech.feed("king>secret</thinking>ok") == "ok"


def test_unclosed_thinking_never_leaks():
    assert spoken(["<thinking>I will call the tool", " now"])[0] == ""


def test_a_lone_less_than_sign_is_released_at_the_end():
    assert spoken(["a <", "b"])[0] == "a <b"
    assert spoken(["x <thi"])[0] == "x <thi"
