import pytest

from rag.text import content_words, fold, spell_as


def test_fold_drops_accents_and_trademark_signs():
    assert fold("Chloé  Zhao") == "chloe zhao"
    assert fold("Xenoblade Chronicles™ 2") == "xenoblade chronicles 2"
    assert fold("LEGO® bricks ©2021") == "lego bricks 2021"
    # letters Unicode does not split into a letter and an accent
    assert fold("Maria Skłodowska-Curie") == fold("Maria Sklodowska-Curie") == "maria sklodowska-curie"
    assert fold("Ørsted, Straße, Æsir") == "orsted, strasse, aesir"
    assert "chronicl" in content_words("Xenoblade Chronicles™ 2")


def test_spell_as_takes_accents_from_the_quote_only():
    quote = "Chinese filmmaker Chloé Zhao won; the Pokémon café opened."
    assert spell_as("Chloe Zhao won [1].", quote) == "Chloé Zhao won [1]."
    assert spell_as("Pokemon fans", quote) == "Pokémon fans"
    # case must agree: a lower-case word is not turned into a capitalised one
    assert spell_as("the Cafe", quote) == "the Cafe"
    # a quote without accents changes nothing, and neither does a word the quote does not have
    assert spell_as("Beyonce sang", "Beyonce sang at the show") == "Beyonce sang"
    assert spell_as("Zoe won", quote) == "Zoe won"
    # typographic forms are not accents: a ligature or a curly apostrophe is not copied
    assert spell_as("the final round", "the ﬁnal round") == "the final round"
    assert spell_as("Trump's visit", "Trump’s visit to Asia") == "Trump's visit"


def test_the_digits_of_a_name_are_not_a_number_of_their_own():
    from rag.text import numbers
    assert numbers("The NS-1 weighed 3.2 kilograms") == {"3.2"}
    assert numbers("the A100 against the V100: 1.73x") == {"1.73"}
    assert numbers("COVID-19 cases in 2020") == {"2020"}
    # numbers that only stand next to other numbers or symbols are numbers
    assert numbers("the 2019-20 season, a 3-1 win, $1.65 billion, 5,000 fans") == {"2019", "20", "3", "1", "1.65", "5000"}
    assert numbers("共有5人") == {"5"}                 # a script written without spaces


def test_a_name_in_capitals_is_spelled_out_by_the_words_it_abbreviates():
    from rag.text import acronyms, spelled_out
    assert acronyms("Did the EU and WW-II matter? I think so.") == {"eu", "ww", "ii"}
    assert spelled_out("eu", "the law of the European Union") == ["European Union"]
    assert spelled_out("fis", "the FIS or Front Islamique de Salut in Algeria") == ["Front Islamique de Salut"]
    assert spelled_out("ww", "After World War II, the") == ["World War"]
    # a numeral is spelled whole: 'WWI' is not 'World War II'
    assert spelled_out("wwii", "After World War II, the") == ["World War II"]
    assert spelled_out("wwi", "After World War II, the") == []
    # words in lower case, or other words between, spell nothing
    assert spelled_out("eu", "the european union") == []
    assert spelled_out("eu", "the European Central Union") == []


def test_a_word_under_a_negating_prefix_is_found_in_any_form_of_the_word():
    from rag.text import flips_a_word
    assert flips_a_word("Whose value was know in his life?", "whose value was unknown in his life")
    assert flips_a_word("Whose value was known in his life?", "whose value was unknown in his life")
    assert not flips_a_word("Whose value was unknown in his life?", "whose value was unknown in his life")
    assert not flips_a_word("Who knew the value?", "whose value was measured in 1798")
    # a prefix written with a hyphen is the same prefix
    assert not flips_a_word("Who are the un-elected members?", "the unelected members of the board")
    assert flips_a_word("Who are the un-elected members?", "the elected members of the board")


@pytest.mark.parametrize("text, passage, swap", [
    ("Which engine allows several possible past states?", "The engine allows several possible future states.", ("past", "future")),
    ("What is the pull of the moon on one ton of rock?", "It is the pull of the moon on one kilogram of rock.", ("ton", "kilogram")),
    ("Who showed that heat and work were joined in two simple laws?",
     "Mayer showed that heat and work were joined in one simple law.", ("two", "one")),
    # the same word in another form, misspelt, or used elsewhere in the passage is no swap
    ("When did the plan come into force?", "The plan came into force in 1998.", None),
    ("How much did the Italian goverment pay in damages?", "The Italian government paid in damages 40,000 lire.", None),
    ("Which engine allows several possible past states?",
     "The engine allows several possible future states, and also past states.", None),
    # the question word is the gap the answer fills; a lone changed word needs words of content around it
    ("What forest lies by the southern border?", "Kabaty forest lies by the southern border.", None),
    ("What is the cat?", "It is the dog.", None),
])
def test_a_word_put_in_place_of_another_among_the_same_words_is_found(text, passage, swap):
    from rag.text import swapped_word
    assert swapped_word(text, passage) == swap
