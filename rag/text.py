"""Small text helpers shared by evidence selection and verification: words, numbers, names."""
from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had
has have having he her here hers herself him himself his how i if in into is it its itself just
let me more most my myself no nor not of off on once only or other our ours ourselves out over own
same she should so some such than that the their theirs them themselves then there these they this
those through to too under until up very was we were what when where which while who whom why will
with would you your yours yourself yourselves according said says say also may might must shall
one ones much many within without whose yes yet via per upon across among amid around
""".split())

QUESTION_WORDS = frozenset("what which who whom whose when where why how".split())

NUMBER_WORDS = frozenset("one two three four five six seven eight nine ten eleven twelve hundred thousand million "
                         "billion trillion dozen half".split())

_WORD = re.compile(r"[\w’']+", re.UNICODE)
# A number, not the digits of a name ('A100', 'NS-1', 'COVID-19': part of the name, checked as one);
# Latin letters only, so that a number written against a word of a script without spaces still counts.
_NUMBER = re.compile(r"(?<![A-Za-z0-9_])(?<![A-Za-z]-)\d+(?:[.,]\d+)*")
_MARKER = re.compile(r"\s*\[(\d+)\]")


_MARKS = re.compile("[™®©℠]")
# Latin letters (lower case) that Unicode does not split into a letter and an accent: 'Skłodowska'
# is written 'Sklodowska' too, 'Ørsted' 'Orsted', 'Straße' 'Strasse'.
_PLAIN_LETTERS = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ı": "i", "ħ": "h", "ŧ": "t", "ð": "d", "þ": "th",
                                "ß": "ss", "æ": "ae", "œ": "oe"})


def fold(text: str) -> str:
    """Lower case, typographic quotes and dashes made plain, accents and trademark signs removed
    ('Chronicles™' is 'chronicles', not 'chroniclestm'; 'Skłodowska' is 'sklodowska'), spaces folded."""
    text = unicodedata.normalize("NFKD", _MARKS.sub("", text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = re.sub(r"[‐-―−]", "-", text)
    return re.sub(r"\s+", " ", text).strip().lower().translate(_PLAIN_LETTERS)


_stemmer = None


def stem(word: str) -> str:
    """Snowball (Porter 2) English stem: 'signed'/'signing' -> 'sign', 'imposed'/'impose' -> 'impos'."""
    global _stemmer
    if _stemmer is None:
        import Stemmer

        _stemmer = Stemmer.Stemmer("english")
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    return _stemmer.stemWord(w)


# Irregular English verbs: the past forms a stemmer leaves apart from the present ('won'/'wins').
IRREGULAR = dict(pair.split(":") for pair in """
won:win paid:pay sold:sell bought:buy made:make took:take taken:take gave:give given:give led:lead ran:run
fell:fall fallen:fall rose:rise risen:rise grew:grow grown:grow began:begin begun:begin wrote:write
written:write held:hold met:meet left:leave found:find told:tell built:build spent:spend struck:strike
brought:bring became:become came:come went:go gone:go saw:see seen:see knew:know known:know chose:choose
chosen:choose drew:draw drawn:draw flew:fly threw:throw sank:sink shot:shoot stood:stand lost:lose
sent:send kept:keep felt:feel got:get sought:seek taught:teach caught:catch fought:fight forgot:forget
hid:hide hit:hit laid:lay lent:lend lit:light meant:mean rode:ride rang:ring sang:sing sat:sit slept:sleep
spoke:speak spoken:speak stole:steal swore:swear swam:swim tore:tear woke:wake wore:wear wound:wind
broke:break broken:break drove:drive driven:drive ate:eat eaten:eat froze:freeze shook:shake
""".split())


def verb_stem(word: str) -> str:
    """The stem of a folded word, an irregular past form as its present ('won' -> 'win', 'paid' -> 'pay')."""
    return stem(IRREGULAR.get(word, word))


def agent_verb(word: str) -> str:
    """The verb an agent noun is made from ('winner' -> 'win', 'founder' -> 'found', 'director' ->
    'direct'); other words as they are."""
    if len(word) < 5 or not word.endswith(("er", "or")):
        return word
    base = word[:-2]
    return base[:-1] if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "aeiouls" else base


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def content_words(text: str) -> list[str]:
    """Stems of the words that carry meaning (no stop words, no one-letter tokens)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and len(w) > 1 and not w.isdigit()]


_ORDINALS = {w: str(n) for n, w in enumerate(
    "third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth fourteenth fifteenth "
    "sixteenth seventeenth eighteenth nineteenth twentieth".split(), 3)}
_ORDINAL = re.compile(r"\b(" + "|".join(_ORDINALS) + r")\b", re.I)


def numbers(text: str) -> set[str]:
    """Numbers written in ``text``, normalised: '1,200' -> '1200', '3.50' -> '3.5'; ordinals from
    'third' to 'twentieth' count as their number ('the eleventh season' states 11)."""
    out = {_ORDINALS[m.group(1).lower()] for m in _ORDINAL.finditer(text)}
    for m in _NUMBER.finditer(text):
        n = m.group().replace(",", "")
        if "." in n:
            n = n.rstrip("0").rstrip(".")
        out.add(n)
    return out


def names(text: str) -> set[str]:
    """Capitalised words that are not stop words (a sentence's first word included): likely names."""
    out = set()
    for sentence in re.split(r"(?<=[.!?])\s+|\n", text):
        tokens = _WORD.findall(sentence)
        for tok in tokens:
            if not tok[:1].isupper():
                continue
            low = tok.lower().replace("’", "'")
            if low.endswith("'s"):
                low = low[:-2]
            if low not in STOPWORDS:
                out.add(fold(low))
    return out


def spell_as(sentence: str, quote: str) -> str:
    """``sentence`` with each word the quote spells differently only in accents written as the
    quote writes it ('Chloe Zhao' -> 'Chloé Zhao' when the quote says 'Chloé Zhao'). Ligatures and
    other typographic forms of the quote ('ﬁnal', 'Trump’s') are not copied."""
    written: dict[str, str] = {}
    for tok in _WORD.findall(quote):
        if _accented(tok):
            written.setdefault(fold(tok), tok)
    if not written:
        return sentence

    def repl(m: re.Match) -> str:
        tok = m.group(0)
        theirs = written.get(fold(tok)) if tok.isascii() else None
        return theirs if theirs is not None and tok[:1].isupper() == theirs[:1].isupper() else tok

    return _WORD.sub(repl, sentence)


def _accented(word: str) -> bool:
    """Does ``word`` carry accents, and nothing else that is not plain ASCII?"""
    if word.isascii() or unicodedata.normalize("NFKC", word) != unicodedata.normalize("NFC", word):
        return False
    bare = "".join(ch for ch in unicodedata.normalize("NFD", word) if not unicodedata.combining(ch))
    return bare.isascii()


def citation_markers(text: str) -> list[int]:
    return [int(n) for n in _MARKER.findall(text)]


def strip_markers(text: str) -> str:
    return _MARKER.sub("", text).strip()


RELATED_PREFIX = 6


def shares_root(stems: set[str], others: set[str]) -> bool:
    """Do two sets of word stems share one, or a word root the stemmer cut differently
    ('presidential' and 'president': the same first RELATED_PREFIX letters)?"""
    if stems & others:
        return True
    prefixes = {w[:RELATED_PREFIX] for w in stems if len(w) >= RELATED_PREFIX}
    return any(w[:RELATED_PREFIX] in prefixes for w in others if len(w) >= RELATED_PREFIX)


def said_in_any_form(word: str, stems: set[str]) -> bool:
    """Is the word ``word`` (a stem) among ``stems`` in any form: the same root, a verb and the noun
    made from it ('seiz' and 'seizur', 'acquir' and 'acquisit'), an agent noun and its verb ('winner'
    and 'win')?"""
    forms, said = {word, agent_verb(word)}, stems | {agent_verb(s) for s in stems}
    return shares_root(forms, said) or any(_derived(w, s) for w in forms for s in said)


def _derived(a: str, b: str) -> bool:
    """Two stems of one root: the shorter (four letters or more) begins the longer, or all of it but
    its last letter does, in stems of five letters or more ('seiz'/'seizur', 'decid'/'decis')."""
    short, long_ = sorted((a, b), key=len)
    if len(short) < 4:
        return False
    return long_.startswith(short) or (len(short) >= 5 and long_.startswith(short[:-1]))


_QUARTERS = {"q1": "first", "q2": "second", "q3": "third", "q4": "fourth"}


def mentioned(name: str, folded_words: set[str]) -> bool:
    """Is ``name`` one of ``folded_words``, or the stem of one ('Japan' in 'Japanese', 'licence' in
    'licences')? Whole words only: 'Ann' is not mentioned by 'annually'."""
    if name in folded_words:
        return True
    quarter = _QUARTERS.get(name)
    if quarter and quarter in folded_words and ("quarter" in folded_words or "quarters" in folded_words):
        return True          # 'Q3' is mentioned by 'third quarter' / 'third-quarter'
    if len(name) < 4:
        return False
    key = name[: max(4, min(len(name), 6))]
    return any(w.startswith(key) and len(w) <= len(name) + 4 for w in folded_words)


_ACRONYM = re.compile(r"\b[A-Z]{2,6}\b")
_ROMAN = re.compile(r"[IVX]+")
# Words an organisation's or event's name may hold that its initials leave out ('Front Islamique de Salut').
_NAME_JOINERS = frozenset("of de du des la le for and the von van der di da del y".split())


def acronyms(text: str) -> set[str]:
    """The words of ``text`` written in capitals only, two to six letters, folded ('fis', 'eu')."""
    return {m.group(0).lower() for m in _ACRONYM.finditer(text)}


def initials_spelled_out(question: str, text: str) -> set[str]:
    """The names ``question`` writes in capitals (folded) that ``text`` spells out ('eu' for 'the
    European Union')."""
    return {a for a in acronyms(question) if spelled_out(a, text)}


def spelled_out(acronym: str, text: str) -> list[str]:
    """The runs of capitalised words of ``text`` whose first letters spell ``acronym`` (folded),
    joining words such as 'of' and 'de' passed over: 'fis' in '… Front Islamique de Salut …',
    'ww' in 'World War II', 'eu' in 'the European Union'."""
    toks = re.findall(r"[^\W\d_][\w'’]*", text)
    found = []
    for i, tok in enumerate(toks):
        if not tok[:1].isupper() or fold(tok[0]) != acronym[:1]:
            continue
        k, j = 1, i + 1
        while k < len(acronym) and j < len(toks):
            t = toks[j]
            if _ROMAN.fullmatch(t):      # a numeral is spelled whole: 'WWII' is 'World War II', 'WWI' is not
                if acronym[k:k + len(t)] != t.lower():
                    break
                k += len(t)
            elif t[:1].isupper() and fold(t[0]) == acronym[k]:
                k += 1
            elif t.lower() not in _NAME_JOINERS:
                break
            j += 1
        if k == len(acronym):
            found.append(" ".join(toks[i:j]))
    return found


_NEGATION = re.compile(r"\b(?:not|no|never|neither|nor|none|nothing|nobody|nowhere|cannot|without)\b|n't\b", re.I)
# 'whether or not', 'may or may not', 'or no': both ways, not a negation; nor 'not … until' ('was not
# identified until the work of Isaac Newton', 'Not until 1798 was …'): it says when it was so
_EITHER_WAY = re.compile(r"\bwhether or not\b|\bor (?:\w+ )?not\b|\bor no\b|\bnot\b(?:\W+\w+){0,8}?\W+until\b", re.I)
_NON = re.compile(r"\b(?:non-?\s?|un-)([\w’']+)", re.I)      # 'non-Islamist', 'non Muslim', 'un-elected'
_NOT_PREFIXED = frozenset("unless unrest".split())    # 'un' + a word, but no negation of it
_COMMON_ZIPF = 3.0     # wordfreq Zipf frequency of a common English word (about one per million words)


# ', and' starts a clause only before a subject ('…, and its score was …'), not before the last item
# of a list ('Windows, Xbox One, and Stadia').
_CLAUSE = re.compile(r";\s+|,?\s+(?:while|whereas|but|although|though)\s+|\s+and\s+then\s+"
                     r"|,\s+and\s+(?=(?:it|its|he|his|she|her|they|their|we|our|the|this|that|these|those)\b)",
                     re.I)


def clauses(sentence: str) -> list[str]:
    """The clauses of a sentence, split where one ends and another begins ('; ', ', but', ' while ')."""
    return [p.strip() for p in _CLAUSE.split(sentence) if p and p.strip()]


def negated(text: str) -> bool:
    """Does ``text`` say that something is not so: 'not', 'never', 'cannot', 'includes no'?"""
    return bool(_NEGATION.search(_EITHER_WAY.sub(" ", text.replace("’", "'"))))


def negated_words(text: str) -> set[str]:
    """The words ``text`` uses under a negating prefix, as the word without it: 'non-religious' ->
    'religious', 'unknown' -> 'known' (a common word after 'un': not 'united', 'under')."""
    from wordfreq import zipf_frequency

    out = {fold(m.group(1)) for m in _NON.finditer(text)}
    for w in words(text):
        rest = w[2:]
        if w.startswith("un") and len(rest) >= 4 and w not in _NOT_PREFIXED \
                and zipf_frequency(rest, "en") >= _COMMON_ZIPF:
            out.add(rest)
    return out


def says_not(text: str) -> bool:
    """Negated, or with a word under a negating prefix ('an unknown value', 'non-binary')."""
    return negated(text) or bool(negated_words(text))


def _forms(ws: list[str] | set[str]) -> set[str]:
    """The stems of ``ws``, an irregular past as its present ('came' -> 'come')."""
    return {stem(w) for w in ws} | {verb_stem(w) for w in ws}


def flips_a_word(claim: str, passage: str) -> bool:
    """Does one text use a word of the other under a negating prefix ('non-Islamist' against
    'Islamist', 'known' against 'unknown')?"""
    negated_in = {claim: negated_words(claim), passage: negated_words(passage)}
    for a, b in ((claim, passage), (passage, claim)):
        b_words = set(words(b))
        b_forms = _forms(b_words)     # 'know' for 'known'
        if any((w in b_words or _forms([w]) & b_forms) and w not in negated_in[b] for w in negated_in[a]):
            return True
    return False


# Words of content both texts share right around a swapped word ('multiple possible' … 'actions').
SWAP_CONTEXT = 2


def swapped_word(text: str, passage: str) -> tuple[str, str] | None:
    """(a word of ``text``, the word ``passage`` has in its place) where the passage says the same
    words around another word: 'multiple possible past actions' against 'multiple possible future
    actions', 'on one ton of mass' against 'on one kilogram of mass'. Not a word the other text uses
    too, in any form ('came', 'come'), one letter off it (a misspelling), or a question word (the gap
    the answer fills)."""
    a, b = words(text), words(passage)
    a_forms, b_forms = _forms(a), _forms(b)
    ops = SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    for k in range(1, len(ops) - 1):
        tag, i1, i2, j1, j2 = ops[k]
        if tag != "replace" or i2 - i1 != 1 or j2 - j1 != 1 or ops[k - 1][0] != "equal" or ops[k + 1][0] != "equal":
            continue
        x, y = a[i1], b[j1]
        if not (_content(x) and _content(y)) or _forms([x]) & b_forms or _forms([y]) & a_forms \
                or shares_root({stem(x)}, {stem(y)}) or _one_letter_off(x, y):
            continue
        around = a[max(ops[k - 1][1], i1 - 2):i1] + a[i2:min(ops[k + 1][2], i2 + 2)]
        if sum(_content(w) for w in around) >= SWAP_CONTEXT:
            return x, y
    return None


def _content(word: str) -> bool:
    """A word of content, a number among them ('one', 'two')."""
    return (word not in STOPWORDS or word in NUMBER_WORDS) and word not in QUESTION_WORDS


def _one_letter_off(x: str, y: str) -> bool:
    """A misspelling: one letter left out, added, changed or two swapped, in words of five letters or more."""
    if min(len(x), len(y)) < 5 or abs(len(x) - len(y)) > 1:
        return False
    if len(x) == len(y):
        diff = [i for i in range(len(x)) if x[i] != y[i]]
        return len(diff) <= 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and x[diff[0]] == y[diff[1]] and x[diff[1]] == y[diff[0]])
    short, long_ = sorted((x, y), key=len)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))
