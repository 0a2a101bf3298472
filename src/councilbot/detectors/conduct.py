"""Conduct that the Code of Conduct forbids everywhere: offensive language, attacks, harassment,
threats, inflammatory remarks and defamation."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable

from ..kinds import RuleKind
from ..text import Doc, Token, is_first_name, without_names
from . import Context, Detector, Hit, Rule, RuleIndex, extra_term_hits, rx

K = RuleKind

# Whole-token forms, after leetspeak and letter runs are undone. Whole tokens, not substrings,
# so "Scunthorpe", "shiitake" and "cocktail" pass.
_PROFANE = re.compile(
    r"^(?:(?:f+|ph)[uv]+c+k+(?:s|in|ing|ed|er|ers|wit|wits|head|face|off)?|fck|fcking|fk|fuk|fukin|fuking|"
    r"motherf\w*|sh(?:i|y)te?(?:s|ty|hole|head|ting|bag)?|bullshit|horseshit|cunts?|twats?|wank(?:s|er|ers|ing)?|"
    r"bollocks|bastards?|arseholes?|assholes?|arsehole|bitch(?:es|ing|y)?|dickheads?|pricks?|"
    r"piss(?:ed|ing)?|tosser?s?|bellend|knobhead|slags?|whores?|sluts?|crap(?:py)?|bloody|effing|effin|frigging|feckin[g]?)$"
)
# Slurs about race, religion, sexuality, disability, gender: offensive whatever the context.
_SLUR = re.compile(
    r"^(?:nigg(?:er|a|ah|ers|as)|pak(?:i|is|y)|wogs?|coons?|chinks?|spics?|kikes?|gypos?|gyppos?|pikeys?|"
    r"trann(?:y|ies)|fag(?:s|got|gots)?|dykes?|retard(?:s|ed)?|spastics?|spazz?|mongs?|mongoloids?|"
    r"poofs?|poofters?|ragheads?|towelheads?|golliwogs?|coloureds)$"
)
# "bloody" and "crap" are rude, not abusive, unless aimed at someone; "bloody mary" is a drink.
_MILD = {"bloody", "crap", "crappy", "piss", "pissed", "pissing", "effing", "effin", "frigging", "feckin", "fecking"}
_MILD_OK_AFTER = {"bloody": re.compile(r"^\s*mar(?:y|ys)\b", re.I)}


def _wild(token: Token) -> bool:
    """'f*ck', 'sh#t', 'c**t': a masked swear word is still a swear word."""
    if "*" not in token.norm and "#" not in token.norm:
        return False
    pattern = "^" + re.sub(r"[*#]+", "[a-z]{1,3}", re.escape(token.norm).replace("\\*", "*").replace("\\#", "#")) + "$"
    candidates = ("fuck", "fucking", "fucked", "fuckwit", "shit", "shitshow", "shithole", "shitty", "bullshit", "cunt", "twat", "wanker", "bastard", "bitch", "arse", "arsehole", "asshole", "bollocks", "dickhead", "prick", "piss", "pissed", "wank")
    return any(re.match(pattern, c) for c in candidates) and len(token.norm.strip("*#")) >= 1


@lru_cache(maxsize=8192)
def _word_kind(word: str) -> str | None:
    """"slur", "profane" or None for one normalised word; most words of a draft are common ones
    met before, so this is a lookup rather than two regular expressions per word."""
    if _SLUR.match(word):
        return "slur"
    return "profane" if _PROFANE.match(word) else None


def _mild_is_benign(doc: Doc, tok: Token) -> bool:
    after = _MILD_OK_AFTER.get(tok.norm)
    return bool(after and after.match(doc.text[tok.end :]))


def offensive_language(doc: Doc, ctx: Context) -> Iterable[Hit]:
    found = False
    tokens = doc.tokens
    for i, tok in enumerate((*tokens, *doc.spaced_words)):
        word = tok.norm.strip("'’")
        kind = _word_kind(word)
        if kind == "slur" and not (i and i < len(tokens) and tok.raw[:1].isupper() and is_first_name(tokens[i - 1].raw)):
            found = True
            yield Hit(K.OFFENSIVE_LANGUAGE, tok.start, tok.end, "a slur")
        elif kind == "profane" or _wild(tok):
            if word in _MILD:
                if _mild_is_benign(doc, tok):
                    continue
                found = True
                yield Hit(K.OFFENSIVE_LANGUAGE, tok.start, tok.end, "rude language", "soft")
            else:
                found = True
                yield Hit(K.OFFENSIVE_LANGUAGE, tok.start, tok.end, "swearing")
    for m in _PHRASES.finditer(doc.text):
        found = True
        yield Hit(K.OFFENSIVE_LANGUAGE, m.start(), m.end(), "an offensive phrase")
    yield from extra_term_hits(K.OFFENSIVE_LANGUAGE, doc, ctx, "a term the council's pack lists as offensive")
    if not found and doc.model_score >= _MODEL_THRESHOLD:
        start, end = _worst_sentence(doc)
        yield Hit(K.OFFENSIVE_LANGUAGE, start, end, "language that reads as abusive")


_PHRASES = rx(r"\b(?:f\W?off|piss off|sod off|bugger off|go to hell|shut (?:the f\w* )?up)\b")
_MODEL_THRESHOLD = 0.9


def _worst_sentence(doc: Doc) -> tuple[int, int]:
    from ..toxicity import score

    spans = [(m.start(), m.end()) for m in re.finditer(r"[^.!?\n]+[.!?]*", doc.text) if m.group().strip()]
    if len(spans) <= 1:
        return (0, len(doc.text))
    scores = score([without_names(doc.text[s:e]) for s, e in spans])
    best = max(range(len(spans)), key=lambda i: scores[i])
    return spans[best]


_NAME = r"(?:cllr\.? [a-z]+|councill?or [a-z]+|mr\.? [a-z]+|mrs\.? [a-z]+|ms\.? [a-z]+|miss [a-z]+|dr\.? [a-z]+|our mp|the mp|the mayor|the clerk|the chair(?:man)?|(?-i:[A-Z][a-z]+ [A-Z][a-z]+))"
_SUBJECT = rf"(?:you(?:'re| are)?|he(?:'s| is)|she(?:'s| is)|they(?:'re| are)|{_NAME}(?:'s| is| are))"
_INSULT = (
    r"(?:idiot|idiots|moron|morons|imbecile|cretin|halfwit|half-wit|numpty|muppet|muppets|scumbag|scumbags|"
    r"loser|losers|clown|clowns|buffoon|dimwit|nitwit|pillock|plonker|prat|parasite|parasites|"
    r"disgrace|joke|waste of space|waste of oxygen|lowlife|snake|hypocrite|coward|thick|stupid|useless|"
    r"incompetent|pathetic|brainless|spineless|clueless|vile|nasty piece of work)"
)
_ATTACK: list[Rule] = [
    (rx(rf"\b{_SUBJECT}\s+(?:an?\s+|such an?\s+|a total\s+|an utter\s+|a complete\s+|completely\s+|totally\s+|utterly\s+|so\s+)?(?:\w+\s+)?{_INSULT}\b"), "an insult aimed at a person", "strong"),
    (rx(r"\b(?:shut up|get a life|nobody (?:likes|wants|asked) you|crawl back under|go back to where you came from|you should be ashamed)\b"), "hostile words aimed at a person", "strong"),
]

_THREAT: list[Rule] = [
    (rx(r"\b(?:watch your back|you(?:'ll| will) (?:regret|pay for) (?:it|this)|know where (?:you|he|she|they) lives?|i know where you live|your days are numbered|you(?:'ve| have) been warned)\b"), "a threat", "strong"),
    (rx(r"\b(?:i|we)(?:'ll| will)\b[^.!?\n]{0,80}\b(?:myself|personally)\b[^!?\n]{0,30}\b(?:and )?not (?:gently|nicely|politely|quietly)\b|\bhe(?:'d| had) better watch (?:it|himself)|\b(?:carry on|keep (?:it|this|that) up|do (?:it|that) again|try (?:it|that) again)\b[^.!?\n]{0,40}\byou(?:'ll| will) find out\b|\bshe(?:'d| had) better watch (?:it|herself)\b"), "a veiled threat", "strong"),
]

_HARASS: list[Rule] = [
    (rx(r"\b(?:everyone|everybody|all of you|let'?s all|keep|go and|please all)\s+(?:\w+\s+)?(?:message|tag|email|e-mail|ring|call|phone|flood|bombard|spam|troll|hound|pester|door-?step)\s+(?:him|her|them|cllr|councillor|mr|mrs|ms|the clerk|(?-i:[A-Z][a-z]+))"), "encouraging others to target a person", "strong"),
    (rx(r"\b(?:go|pop round|call round) (?:and )?(?:tell|show|let) (?:him|her|them) (?:what you think|how you feel|know what you think)|\bfeel free to (?:let|tell|show) (?:him|her|them) (?:know )?(?:what|how) you (?:think|feel)|\bso (?:that )?(?:everyone|everybody|you all|the whole town) can see what (?:you|he|she|they)(?:'ve| have| has)? (?:been )?(?:send|sent|say|said|writ|wrote)\w*|\bhere'?s (?:his|her|their|your) (?:email|number|address|mobile)\b"), "turning others on a person or exposing them", "strong"),
]

_INFLAME: list[Rule] = [
    (rx(r"\b(?:eastern europeans|poles|romanians|immigrants|migrants|travellers|gypsies|asylum seekers|foreigners|refugees)\b[^.!?\n]{0,80}\b(?:shoplifting|crime|thefts?|thieves|stealing|trouble|lock up your)|\b(?:shoplifting|crime|thefts?|burglar\w*)\b[^.!?\n]{0,80}\b(?:eastern europeans|poles|romanians|immigrants|migrants|travellers|gypsies|asylum seekers|foreigners)\b|\block up your (?:sheds|bikes|daughters|valuables|homes|houses)\b"), "blaming a group of people", "strong"),
]

_DEFAME: list[Rule] = [
    (rx(rf"\b{_NAME}\s+(?:has been |is |was |has )?(?:stole|stealing|steals|embezzled|embezzling|took (?:a )?bribes?|taking (?:a )?bribes?|fiddl(?:ed|ing) (?:the|his|her) (?:books|expenses|accounts)|lied|lying|on the take|in the pocket of|pocketed|fixed the (?:vote|contract|tender)|rigged|defrauded|assaulted|abused|cooked the books)\b"), "an accusation of wrongdoing against a named person", "strong"),
    (rx(r"\b(?:is|are|was) (?:a |an )?(?:known |convicted |notorious |total |complete |proper )?(?:liar|crook|thief|fraud|fraudster|criminal|embezzler|paedophile|conman|con man|swindler|cheat)s?\b|\bcheated (?:his|her|their) (?:suppliers|customers|clients|staff)|\bpalms? (?:crossed|greased) with\b|\bgreased (?:his|her|their|the) palms?\b|\bkick-?backs?\b|\bin (?:his|her|their) back pocket\b|\b(?:pocketed|trousered|siphoned off|creamed off|ran off with|did a runner with) (?:the|our|their|people's|everyone's) (?:deposits?|money|cash|funds|grant|takings|donations)|\bbrown envelopes?\b|\bbackhanders?\b"), "an accusation of wrongdoing stated as fact", "strong"),
    (rx(r"\b(?:is|was) (?:the one|the person|the man|the woman|the bloke|the firm|the company) (?:responsible for|behind|doing) (?:the |all the )?(?:fly-?tipping|vandalism|theft|thefts|graffiti|fraud|damage|dumping|break-?ins)\b|\bfunny how\b[^.!?\n]{0,120}\b(?:contract|grant|job|planning|permission)\b|\bbrown envelopes?\b"), "an accusation of wrongdoing, stated or insinuated", "strong"),
    (rx(r"\b(?:naming no names|no names mentioned|draw your own conclusions|make of that what you will|i'll say no more)\b"), "a hint at someone's wrongdoing", "soft"),
]


# Fixed wording, kept whatever the corpus says: textbook threats, wishing harm, incitement and
# dehumanising language are rare in drafts (no author's draft used these words), certain when they occur,
# and too short for the judge to block alone. scripts/detector_report.py reports them but never prunes.
_THREAT_FIXED: list[Rule] = [
    (rx(r"\b(?:i|we)(?:'ll| will| am going to|'m going to|'re going to| are going to| shall)\s+(?:\w+\s+)?(?:kill|hurt|batter|stab|shoot)\s+(?:you|him|her|them)\b"), "a threat of harm", "strong"),
    (rx(r"\b(?:deserves?|ought) to (?:die|be (?:shot|hanged|hung|stabbed|beaten|killed|strung up))|should be (?:shot|hanged|hung|strung up|lynched|killed|put down)\b"), "wishing harm on someone", "strong"),
    (rx(r"\b(?:i(?:'ll| will)|we(?:'ll| will)) (?:break|smash|snap) (?:their|his|her|your) (?:legs|arms|neck|face|windows)|should be (?:burn(?:ed|t) out|beaten up|run over)\b"), "a threat of harm", "strong"),
    (rx(r"\b(?:burn|torch|smash up|firebomb)\s+(?:down\s+)?(?:his|her|their|your)\s+(?:house|home|car|shop|office)\b"), "a threat to someone's property", "strong"),
    (rx(r"\bsomeone (?:should|ought to|needs to) (?:punch|hit|kill|hurt|shoot)\b"), "inciting harm", "strong"),
]
_INFLAME_FIXED: list[Rule] = [
    (rx(r"\b(?:scum|vermin|subhuman|sub-human|swarm(?:ing)? of (?:migrants|immigrants|travellers|refugees)|flood of (?:migrants|immigrants|refugees))\b"), "dehumanising language", "strong"),
    (rx(r"\b(?:travellers|gypsies|immigrants|migrants|refugees|asylum seekers|muslims|jews|foreigners|gay people|disabled people)\s+(?:should be (?:banned|kicked out|deported|removed|rounded up)|are ruining|are destroying|don't belong|aren't welcome|are not welcome)"), "a sweeping attack on a group of people", "strong"),
    (rx(r"\b(?:send them (?:all )?back|get (?:them|these people) out of (?:our|this) town|kick them (?:all )?out|they don't belong here)\b"), "an inflammatory call to action", "strong"),
]


def patterns(kind: RuleKind, rules: list[Rule]) -> Detector:
    index = RuleIndex(rules)

    def detect(doc: Doc, ctx: Context) -> Iterable[Hit]:
        found = index.hits(kind, doc)
        if kind in ctx.extra_terms:
            found += extra_term_hits(kind, doc, ctx, "a term the council's pack lists")
        return found

    return detect


DETECTORS: dict[RuleKind, Detector] = {
    K.OFFENSIVE_LANGUAGE: offensive_language,
    K.PERSONAL_ATTACK: patterns(K.PERSONAL_ATTACK, _ATTACK),
    K.THREAT: patterns(K.THREAT, _THREAT + _THREAT_FIXED),
    K.HARASSMENT: patterns(K.HARASSMENT, _HARASS),
    K.INFLAMMATORY: patterns(K.INFLAMMATORY, _INFLAME + _INFLAME_FIXED),
    K.DEFAMATION: patterns(K.DEFAMATION, _DEFAME),
}
