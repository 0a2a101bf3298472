"""Other people's privacy: contact details, names and addresses, children in pictures, and
residents, partners or suppliers cited without their approval."""

from __future__ import annotations

import re
from typing import Iterable

from ..kinds import RuleKind
from ..text import Doc, is_first_name, named_people
from .conduct import patterns
from . import Context, Detector, Hit, Rule, hits_spans, rx

K = RuleKind

_EMAIL = re.compile(r"\b[\w.+-]+@([\w-]+(?:\.[\w-]+)+)\b")
# UK numbers: mobiles 07..., landlines 01/02..., +44. Freephone, non-geographic and short
# helpline numbers (0800, 0808, 0300, 0345, 111, 101, 999) belong to organisations, not people.
_PHONE = re.compile(r"(?<![\w+])(?:\+44\s?\(?0?\)?\s?|0)(?:\d[\s-]?){9,10}(?!\w)")
_PUBLIC_PHONE = re.compile(r"^(?:\+44\s?\(?0?\)?\s?|0)\s?(?:800|808|300|30\d|34\d|37\d|845|844|843|870|871)")
_POSTCODE = re.compile(r"\b(?:[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2})\b")
_STREET = r"(?:road|rd|street|st|lane|ln|avenue|ave|close|drive|dr|way|crescent|court|grove|gardens|place|terrace|mews|walk|view|rise|hill|green|park|square|row)"
_HOUSE = re.compile(rf"\b\d{{1,4}}[a-z]?,?\s+(?-i:[A-Z][a-z'’]+)(?:\s+(?-i:[A-Z][a-z'’]+))?\s+{_STREET}\b", re.IGNORECASE)
_NI = re.compile(r"\b[A-CEGHJ-PR-TW-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b")
_BANK = re.compile(r"\b(?:sort code|account (?:number|no\.?))\s*:?\s*[\d-]{6,}", re.IGNORECASE)
_DOB = re.compile(r"\b(?:date of birth|d\.?o\.?b\.?|born on)\s*:?\s*\d", re.IGNORECASE)
_HONORIFIC = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx)\.?\s+(?:[A-Z]\.?\s+)?(?-i:[A-Z][a-z'-]+)(?:\s+(?-i:[A-Z][a-z'-]+))?")
_LISTS = re.compile(r"\b(?:(?:with )?their (?:home )?addresses|home addresses of|list of (?:everyone|all the people|residents) who|their (?:phone|mobile) numbers)\b", re.IGNORECASE)
_NAME_AT_PLACE = re.compile(r"\b([A-Z][a-z]+)\s+(?:at|from)\s+(?:[Tt]he\s+)?[A-Z][\w'&-]+")
_OFFICE_PHONE = re.compile(r"\b(?:office|council|town hall|civic cent(?:re|er)|library|clerk|reception)\b[^.!?\n]{0,40}$", re.IGNORECASE)
_NOT_A_HOME = re.compile(r"\s+(?:Business|Industrial|Trading|Retail|Enterprise)\s+(?:Units?|Estate|Park|Centre)\b", re.IGNORECASE)
_FAMILY = re.compile(r"\bthe (?-i:[A-Z][a-z]+) family\b", re.IGNORECASE)
_PRIVATE_CONTEXT = re.compile(r"\b(?:lives? at|lives? on (?-i:[A-Z])[a-z]+ (?:Street|Road|Lane|Avenue|Close|Drive|Way|Crescent|Hill|Terrace)|living at|home address|her address|his address|their address|house is|flat \d+)\b", re.IGNORECASE)


# Who an address belongs to, said just before it: a person's name ("Mrs Eileen Cole of", "Carol at
# number", "J. Platt (", "Margaret Hooper's from"), someone described by where they live ("the resident
# at", "the tenants of"), or "you're at". A name starts with a title, an initial or a first name; a
# capitalised word alone may be a place ("Tesco, 14 Crewe Road").
_TITLE = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?"
_SURNAME = r"[A-Z][a-z'’-]+"
_TO_ADDRESS = r"(?:'s|’s)?\s*(?:,|\(|–|-|\bof\b|\bat\b|\bfrom\b|\bin\b)\s*(?:(?:number|no\.?)\s*)?$"
_NAMED_BEFORE = re.compile(
    rf"(?:\b{_TITLE}\s+(?:[A-Z]\.?\s+)?{_SURNAME}(?:\s+{_SURNAME})?|\b[A-Z]\.\s*{_SURNAME}|\b(?P<first>[A-Z][a-z]+)(?:\s+{_SURNAME})?){_TO_ADDRESS}")
_DESCRIBED_BEFORE = re.compile(
    r"\b(?:residents?|owners?|tenants?|neighbours?|occupants?|occupiers?|householders?|woman|man|lady|gentleman|chap|bloke|guy|lad|lass"
    r"|couple|family|pensioner|widow(?:er)?)\s+(?:(?:who\s+)?(?:lives?|living)\s+)?(?:at|of|from|in)\s+(?:(?:number|no\.?)\s*)?$"
    r"|\b(?:you(?:'re|’re| are)|s?he(?:'s|’s| is)|they(?:'re|’re| are))\s+(?:at|in)\s+(?:(?:number|no\.?)\s*)?$", re.IGNORECASE)
# ... or just after it, set off as its owner: "No. 22 Brookhouse Road – Mrs Tamsin Grey –", "12 High Street, Mr Peter Vane".
_NAMED_AFTER = re.compile(rf"^\s*(?:,|–|-|\()\s*(?:{_TITLE}\s+(?:[A-Z]\.?\s+)?{_SURNAME}(?:\s+{_SURNAME})?|(?P<first>[A-Z][a-z]+)\s+{_SURNAME})")
# A public place's address: the council's offices, a hall, a venue. Said just before the address
# ("the Town Hall, 14 High Street", "our offices at") or just after it ("12 Lawton Road (the Civic Centre)").
_PLACE = (r"(?:town hall|civic(?: cent(?:re|er)| hall)?|council(?:'s)? offices?|(?:our|the) offices?|office|council|market house|library"
          r"|(?:community|village|parish|church|memorial|public|sports|leisure|youth|health|medical|day|heritage|visitor|information) (?:cent(?:re|er)|hall|club)"
          r"|scout hut|school|academy|church|chapel|surgery|museum|post office|station|venue|pavilion|cricket club|football club|hall|cent(?:re|er))")
_PLACE_BEFORE = re.compile(rf"\b{_PLACE}\s*(?:,|\bat\b|\bon\b|\bin\b|:|\(|–|-)?\s*$", re.IGNORECASE)
_PLACE_AFTER = re.compile(rf"^\s*(?:,|\(|–|-)\s*(?:the\s+|our\s+)?(?:[A-Z][\w'’&-]*\s+){{0,3}}{_PLACE}\b", re.IGNORECASE)
_NEAR_ADDRESS = 60  # characters either side looked at, within the sentence


# The end of a sentence, not the full stop of "No. 22", "Mrs. Cole" or "J. Platt".
_SENTENCE_END = re.compile(r"(?<!\bNo)(?<!\bno)(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bDr)(?<!\bSt)(?<!\b[A-Z])[.!?;](?:\s|$)|\n")


def _before(text: str, m: re.Match[str]) -> str:
    """The words just before an address, back to the start of its sentence."""
    return _SENTENCE_END.split(text[max(0, m.start() - _NEAR_ADDRESS):m.start()])[-1]


def _after(text: str, m: re.Match[str]) -> str:
    """The words just after an address, up to the end of its sentence."""
    return _SENTENCE_END.split(text[m.end():m.end() + _NEAR_ADDRESS])[0]


def _owned(text: str, m: re.Match[str]) -> tuple[int, int] | None:
    """Where the address is given as someone's (their name, or who they are, right beside it): the
    span of the name and the address together, to quote; None when it is not."""
    before, after = _before(text, m), _after(text, m)
    for found in (_NAMED_BEFORE.search(before), _DESCRIBED_BEFORE.search(before)):
        if found and ("first" not in found.re.groupindex or found.group("first") is None or is_first_name(found.group("first"))):
            return m.start() - len(before) + found.start(), m.end()
    named = _NAMED_AFTER.match(after)
    if named and (named.group("first") is None or is_first_name(named.group("first"))):
        return m.start(), m.end() + named.end()
    return None


def _public_place(text: str, m: re.Match[str]) -> bool:
    """The council's offices, a hall or a venue: an address the council gives out, not a home."""
    return bool(_PLACE_BEFORE.search(_before(text, m)) or _PLACE_AFTER.match(_after(text, m)))


def _public_email(domain: str, ctx: Context) -> bool:
    domain = domain.lower()
    return any(domain == d or domain.endswith("." + d) for d in ctx.public_email_domains)


def personal_data(doc: Doc, ctx: Context) -> Iterable[Hit]:
    for m in _EMAIL.finditer(doc.text):
        if not _public_email(m.group(1), ctx):
            yield Hit(K.PERSONAL_DATA, m.start(), m.end(), "a personal email address")
    for m in _PHONE.finditer(doc.text):
        digits = re.sub(r"\D", "", m.group())
        if _OFFICE_PHONE.search(doc.text[max(0, m.start() - 60):m.start()]) and digits[-10:-9] in {"1", "2"}:
            continue  # "ring the office on 01632 960218": the council's own landline
        if not _PUBLIC_PHONE.match(m.group()) and len(digits) >= 10:
            yield Hit(K.PERSONAL_DATA, m.start(), m.end(), "a personal phone number")
    for pattern, reason in ((_NI, "a National Insurance number"), (_BANK, "bank details"), (_DOB, "a date of birth")):
        for m in pattern.finditer(doc.text):
            yield Hit(K.PERSONAL_DATA, m.start(), m.end(), reason)
    houses = list(_HOUSE.finditer(doc.text))
    postcodes = list(_POSTCODE.finditer(doc.text))
    # A business estate, or a public place's address ("the Civic Centre, 12 Lawton Road"), is nobody's home.
    houses = [m for m in houses if not _NOT_A_HOME.match(doc.text, m.end()) and not _public_place(doc.text, m)]
    postcodes = [m for m in postcodes if not _public_place(doc.text, m)]
    for m in houses:
        # A home address given as someone's ("Mrs Cole of 7 Park Street", "the resident at 14 Hassall
        # Road") or in full (with a postcode, or "lives at") is published personal data, as much as
        # a phone number is; a street address on its own asks for written permission.
        owned = _owned(doc.text, m)
        if owned is not None:
            yield Hit(K.PERSONAL_DATA, *owned, "a person's home address")
        elif postcodes or _PRIVATE_CONTEXT.search(doc.text):
            yield Hit(K.PERSONAL_DATA, m.start(), m.end(), "a home address")
        else:
            yield Hit(K.PERSONAL_DATA, m.start(), m.end(), "an address", "soft")
    for m in postcodes:
        owned = _owned(doc.text, m)
        if owned is not None:  # "Dave Jones of ST7 2AB"
            yield Hit(K.PERSONAL_DATA, *owned, "a person's home address")
    if not houses:
        # "Mrs Jones lives at 14 station road, ST7 2AB": a street the house pattern does not read
        # (in small letters), with a postcode, and said to be where someone lives, is a home address.
        for m in _PRIVATE_CONTEXT.finditer(doc.text):
            near = [p for p in postcodes if p.start() - m.end() <= _NEAR_ADDRESS and m.start() - p.end() <= _NEAR_ADDRESS]
            if near:  # quoted from "lives at" to the postcode
                yield Hit(K.PERSONAL_DATA, min(m.start(), near[0].start()), max(m.end(), near[0].end()), "a home address")
            else:
                yield Hit(K.PERSONAL_DATA, m.start(), m.end(), "where someone lives", "soft")
    for m in _LISTS.finditer(doc.text):
        yield Hit(K.PERSONAL_DATA, m.start(), m.end(), "other people's addresses or details")
    for m in _FAMILY.finditer(doc.text):
        yield Hit(K.PERSONAL_DATA, m.start(), m.end(), "a named private family", "soft")
    for start, end in named_people(doc):
        yield Hit(K.PERSONAL_DATA, start, end, "a named private individual", "soft")
    for m in _HONORIFIC.finditer(doc.text):
        yield Hit(K.PERSONAL_DATA, m.start(), m.end(), "a named private individual", "soft")
    for m in _NAME_AT_PLACE.finditer(doc.text):
        before = doc.text[: m.start()].split()
        if is_first_name(m.group(1)) and not (before and before[-1][:1].isupper()):  # "Bloody Mary at ..."
            yield Hit(K.PERSONAL_DATA, m.start(), m.end(), "a named person at a business or place", "soft")


_MEDIA = r"(?:\[photo\]|here are (?:the|our) (?:girls|boys|kids|children|youngsters|pupils)|(?:look at|see) (?:the|their|those|these) (?:smiles|faces)|\[video\]|here (?:he|she|they) (?:is|are)|look at (?:these|those|their)|here's the team|photos?|photographs?|pictures?|pics?|snaps?|selfies?|videos?|footage|film(?:ed)?|filming|clip|images?|livestream(?:ed)?|camera|shots?|📸|📷|🎥)"
_CHILDREN = r"(?:children|child|kids|kiddies|pupils|schoolchildren|toddlers|youngsters|babies|baby|minors|juniors|under-?\d+s?|year \d+s?|cubs|brownies|beavers|rainbows|scouts|guides|nursery|primary school|infants|little ones|teenagers|teens|students|boys|girls|sons?|daughters?|daughter's|son's|grandchildren|grandkids|class|aged (?:[1-9]|1[0-7])|under-?\d{1,2}s?|brownies'|happy faces|youth(?: council| club| team| group)?|junior|grand(?:daughter|son|child|kid)s?(?:'s)?|half[- ]term (?:club|craft|activit(?:y|ies)|fun|session)s?|little (?:[\w-]+ )?(?:helpers|carvers|bakers|artists|painters|gardeners|stars|angels|monsters|sods|devils|terrors|rascals)|little faces|proud little|prom|young people|(?-i:[A-Z][a-z]+ [A-Z][a-z'-]+) \((?:[1-9]|1[0-7])\)|young (?-i:[A-Z][a-z]+)|(?-i:U)-?\d{1,2}s|our youngest|little (?:lad|lass|boy|girl|man|madam)s?|primary(?:'s)? (?:choir|class|team|pupils)|school (?:choir|team|band|class))"
_MEDIA_RE = rx(rf"(?<!\w){_MEDIA}(?!\w)", need=(
    "photo", "video", "smiles", "faces", "here ", "here'", "here are", "look at", "picture", "pic", "snap", "selfie", "footage", "film",
    "clip", "image", "livestream", "camera", "shot", "📸", "📷", "🎥"))
_CHILDREN_RE = rx(rf"(?<!\w){_CHILDREN}(?!\w)")
_NEAR = 160  # characters: "Photos from the carnival parade … the children's fancy dress"


# Every Instagram or YouTube post is a picture or a video, said or not.
_VISUAL_PLATFORMS = frozenset({"instagram", "youtube"})


def minors_media(doc: Doc, ctx: Context) -> Iterable[Hit]:
    """Children and a photo or video mentioned close together: parental permission needed."""
    media = [m.span() for m in hits_spans(_MEDIA_RE, doc)]
    visual = ctx.platform in _VISUAL_PLATFORMS
    if not media and not visual:
        return
    for child in hits_spans(_CHILDREN_RE, doc):
        c_start, c_end = child.span()
        near = [s for s in media if abs(s[0] - c_start) <= _NEAR] or ([(c_start, c_end)] if visual else [])
        if near:
            start = min(c_start, near[0][0])
            end = max(c_end, near[0][1])
            yield Hit(K.MINORS_MEDIA, start, end, "children in a photo or video")
            yield from minors_without_permission(doc)
            return


# Saying the parents were not asked turns "needs a check" into "do not post".
_NO_PERMISSION = rx(r"\b(?:didn't|did not|without|haven't|have not|never|not) (?:[\w']+ ){0,4}?ask(?:ed|ing)? (?:the|their|his|her|any of the) parents\b",
                    need=("parents",))


def minors_without_permission(doc: Doc) -> Iterable[Hit]:
    for m in hits_spans(_NO_PERMISSION, doc):
        yield Hit(K.MINORS_MEDIA, m.start(), m.end(), "children pictured without asking their parents")


_THIRD_PARTY: list[Rule] = [
    (rx(r"\b(?:thanks?(?: you)? to|thank you,?|thanking|(?:huge |big |many )?thanks to|(?:big |huge )?shout[- ]?out to|(?:working|partnering|teaming up) with|(?:supplied|fitted|built|installed|made|designed) (?:and (?:fitted|installed|supplied) )?by|my neighbour|shout-?out to|credit to|courtesy of|supplied by|provided by|sponsored by|donated by|kindly (?:donated|provided|supplied) by|in partnership with|with support from|support of|our (?:\w+ ){0,2}(?:contractor|partner|supplier|sponsor)s?,?)\s+(?:our\s+(?:partners?|suppliers?|sponsors?|friends)\s+(?:at\s+)?)?(?:the\s+)?(?:(?-i:[A-Z][\w'&-]+)(?:\s+(?-i:[A-Z&][\w'&-]*))*)"), "naming a resident, partner or supplier", "soft"),
    (rx(r"\b(?:resident|residents|customer|supplier|contractor|local (?:man|woman|resident|business owner))\s+(?-i:[A-Z][a-z]+)(?:\s+(?-i:[A-Z][a-z]+))?"), "naming a resident or supplier", "soft"),
    (rx(r"\b(?:spoke to|talking to|chatted to|message from|word from|heard from|(?:thanks|thank you) to|told by)\s+(?-i:[A-Z][a-z]+)\s+(?:at|from)\s+(?:the\s+)?(?-i:[A-Z][\w'&-]+)"), "naming a resident or trader", "soft"),
    (rx(r"\b(?:chat|chatted) (?:with|to) (?:(?-i:[A-Z][a-z]+)\b|the (?:manager|owner|landlord|landlady|head|staff|team) (?:of|at) (?:the )?(?-i:[A-Z]))"), "citing a named resident or business", "soft"),
    (rx(r"\b(?-i:[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)\s+(?-i:Ltd|Limited|plc|& Sons|and Sons|Builders|Contractors|Landscaping|Plumbing|Electrical|Motors|Services)\b"), "naming a business", "soft"),
]


DETECTORS: dict[RuleKind, Detector] = {
    K.PERSONAL_DATA: personal_data,
    K.MINORS_MEDIA: minors_media,
    K.THIRD_PARTY_CITATION: patterns(K.THIRD_PARTY_CITATION, _THIRD_PARTY),
}
