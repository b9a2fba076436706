import pytest

from rag.dates import complete, full_dates

QUOTE = "The game was announced on January 12, 2017. It was released on December 1, 2017 in Japan."


@pytest.mark.parametrize("answer, expected", [
    ("It was released on December 1 [1].", "It was released on December 1, 2017 [1]."),
    ("It was released on 1st December.", "It was released on December 1, 2017."),
    ("It was released on Dec. 1 in Japan.", "It was released on December 1, 2017 in Japan."),
    ("It came out in December 2017.", "It came out in December 1, 2017."),
    ("Announced January 12, released December 1.", "Announced January 12, 2017, released December 1, 2017."),
])
def test_a_shortened_date_takes_the_quotes_full_wording(answer, expected):
    assert complete(answer, QUOTE) == expected


@pytest.mark.parametrize("answer", [
    "It was released on December 1, 2017.",     # already complete
    "It was released on March 3.",              # not in the quote
    "It was released on December 2.",           # another day of the same month
    "It was released in 2017.",                 # a bare year is never widened
    "It was released on May 5.",                # 'May' the month, not in the quote
    "It was released on 1 December 2017.",      # day first, complete
    "It was released on 1st of December 2017.",
])
def test_nothing_changes_without_exactly_one_matching_full_date(answer):
    assert complete(answer, QUOTE) == answer


def test_two_full_dates_with_the_same_month_and_day_are_ambiguous():
    quote = "First shown on Nov 17, 2019 and again on November 17, 2020."
    assert complete("It premiered November 17.", quote) == "It premiered November 17."


def test_day_first_dates_in_the_quote():
    assert complete("Launched on 19th October [2].", "revealed on 19 October 2021 at an event") == \
        "Launched on 19 October 2021 [2]."


def test_a_quote_without_dates_leaves_the_answer_alone():
    assert complete("It opened May 12.", "The bridge opened in spring.") == "It opened May 12."


def test_full_dates_name_the_year_with_the_month():
    assert full_dates("Announced on January 12, 2017, out in May 2018; patched on 3 March.") == \
        ["January 12, 2017", "May 2018"]
    assert full_dates("Out on 3 March, or in 2019.") == []
