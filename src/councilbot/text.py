"""Seeing through obfuscation ("f*ck", "sh1t", "f u c k", "shiiit") while keeping spans of the original."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "i"})
# Emoji and other pictographs between letters mask them ("f🤬ck"): they join the token and read as '*'.
# Only between: "a bit😂 chilly" is "bit" and a laugh, not a masked swear word.
_MASKS = "\u2600-\u27bf\U0001f300-\U0001faff"
_WORDISH = "A-Za-z0-9@$*#!|"
_TOKEN = re.compile(rf"[{_WORDISH}]+(?:[{_MASKS}]+[{_WORDISH}]+)*(?:['’][A-Za-z]+)?")
_MASK = re.compile(rf"[{_MASKS}]")
_REPEATS = re.compile(r"(.)\1{2,}")


class Token(NamedTuple):
    """A tuple, not a dataclass: a draft has hundreds and every check builds them."""

    start: int
    end: int
    raw: str
    norm: str  # lower case, leetspeak undone, runs of 3+ letters cut to one; '*' and '#' kept as wildcards


@lru_cache(maxsize=65536)
def _normalise_token(raw: str) -> str:
    low = _MASK.sub("*", raw.lower())
    # Only undo leetspeak inside words that have letters; "2026" and "07700" stay numbers.
    if re.search(r"[a-z]", low):
        low = low.translate(_LEET)
    low = low.strip("!|.")
    return _REPEATS.sub(r"\1", low)


@dataclass(frozen=True)
class Doc:
    """A draft ready for the detectors: its text, a lower-cased copy, tokens with spans."""

    text: str
    model_score: float = 0.0

    @cached_property
    def lower(self) -> str:
        return self.text.lower()

    @cached_property
    def memo(self) -> dict[str, Any]:
        """What the detectors work out once per draft and share (the gate words present)."""
        return {}

    @cached_property
    def tokens(self) -> tuple[Token, ...]:
        out = [Token(m.start(), m.end(), m.group(), _normalise_token(m.group())) for m in _TOKEN.finditer(self.text)]
        return tuple(out)

    @cached_property
    def spaced_words(self) -> tuple[Token, ...]:
        """Words written letter by letter ("f u c k", "s.h.i.t") joined back together."""
        out: list[Token] = []
        run: list[Token] = []
        for tok in (*self.tokens, None):
            if tok is not None and len(tok.norm) == 1 and tok.norm.isalpha() and (
                not run or tok.start - run[-1].end <= 2
            ):
                run.append(tok)
                continue
            if len(run) >= 3:
                norm = "".join(t.norm for t in run)
                out.append(Token(run[0].start, run[-1].end, self.text[run[0].start : run[-1].end], norm))
            run = [tok] if tok is not None and len(tok.norm) == 1 and tok.norm.isalpha() else []
        return tuple(out)

    def span(self, start: int, end: int) -> str:
        return self.text[start:end]



# Common first names: a capitalised first name followed by a capitalised word is most likely a
# person ("Tom Lowe", "Ron Dyke"), where two capitalised words alone are as often a place.
FIRST_NAMES = frozenset("""
adam alan alex alice alison amanda amy andrew andy angela ann anna anne anthony barbara barry ben beth betty bill bob
brian carol caroline catherine charles charlie charlotte chris christine claire colin craig dan daniel dave david debbie
deborah dennis derek diane donna dorothy doug edward elaine eleanor elizabeth ellie emily emma eric fiona frank gary
gemma geoff george gillian graham hannah harry heather helen ian jack jackie james jane janet jason jean jeff jennifer
jenny jessica jim joan joe john jon jonathan joseph josh julie karen kate katie keith kelly ken kevin laura lee linda
lisa liz lucy lynn margaret maria mark martin mary matt matthew michael michelle mike nathan neil nick nicola nigel
olivia oliver pam pat patricia paul pauline peter phil philip rachel ray rebecca richard rob robert roger ron ronald
rose ruth sally sam samantha sandra sarah scott sharon shirley simon sophie stephen steve stuart sue susan terry
thomas tim tom tony tracy valerie vicky wendy william
abigail adrian aileen alfie amelia andrea annette arthur audrey barbara bernard beverley brenda brian bryan carl
carole cheryl christopher clive colleen connor dawn dean denise doreen eileen elsie emma evelyn florence frances
freddie gail gareth gavin gerald gladys glenn gordon grace harriet hazel howard irene isabel jacqueline janice janet
jayne jeremy jill joanne joyce judith june karl kathleen kay kim kirsty leslie lorraine louise lynne malcolm mandy
marion marjorie maureen mavis megan melanie mervyn mohammed muriel nancy natalie neil norman pamela paula penny
phyllis raymond rita robin rosemary roy russell sheila sian stanley steven tina trevor vera vincent wayne yvonne
steph stephanie jen jess becky kath kathy pete dom dominic ollie harvey archie noah jake luke ryan tyler kieran
liam callum jamie danny jo jodie zoe chloe lauren isla evie freya millie rosie reg ted alf bert fred sid wilf gwen
marge jan viv bev dorothy elsie ethel mabel albert cyril percy harold wilfred norma brenda gareth rhys dylan owen
aled siobhan niamh ciara aoife sinead declan seamus fergus hamish ewan alasdair moira morag priya ravi sanjay
amir aisha fatima imran hassan bilal zara yusuf omar ali jasmine
""".split())


def is_first_name(word: str) -> bool:
    return word.lower() in FIRST_NAMES and word[:1].isupper()


_PERSON = re.compile(r"\b([A-Z][a-z]+)\s+([A-Z][a-z'-]+)\b")


# Public office holders are named in their role, not as private individuals.
_OFFICE = re.compile(r"(?:\b(?:cllr|councill?or|mayor|mp|chair(?:man)?|clerk)\.?|\bthe)\s*$", re.IGNORECASE)


def named_people(doc: "Doc") -> list[tuple[int, int]]:
    """Spans that look like a private person's full name."""
    return [(m.start(), m.end()) for m in _PERSON.finditer(doc.text)
            if is_first_name(m.group(1)) and not _OFFICE.search(doc.text, max(0, m.start() - 14), m.start())]


# Names that are also rude words: to the model, "Dick Whittington" is an insult. Not counted as
# private individuals (the panto and the highwayman are not), only kept from the model.
_RUDE_NAMES = frozenset({"dick", "willy", "fanny"})


def without_names(text: str) -> str:
    """``text`` with people's full names replaced by "someone", for the offensive-language model,
    which learnt words, not who is meant."""
    return _PERSON.sub(lambda m: "someone" if is_first_name(m.group(1)) or m.group(1).lower() in _RUDE_NAMES
                       else m.group(), text)
