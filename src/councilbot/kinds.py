"""The shared vocabulary every policy pack maps its clauses onto."""

from __future__ import annotations

from enum import StrEnum


class RuleKind(StrEnum):
    OFFENSIVE_LANGUAGE = "offensive-language"
    PERSONAL_ATTACK = "personal-attack"
    HARASSMENT = "harassment"
    THREAT = "threat"
    PERSONAL_DATA = "personal-data"
    MINORS_MEDIA = "minors-media"
    POLITICAL = "political"
    ADVERTISING = "advertising"
    CONFIDENTIAL = "confidential"
    DEFAMATION = "defamation"
    COPYRIGHT = "copyright"
    PERSONAL_OPINION_AS_COUNCIL = "personal-opinion-as-council"
    CONTRARY_TO_DECISION = "contrary-to-decision"
    INFLAMMATORY = "inflammatory"
    THIRD_PARTY_CITATION = "third-party-citation"
    UNLAWFUL = "unlawful"
    SECURITY = "security"
    UNAPPROVED_CHANNEL = "unapproved-channel"
    COUNCILLOR_DIRECTION = "councillor-direction"


class Verdict(StrEnum):
    OK = "ok"
    CAUTION = "caution"
    DO_NOT_POST = "do_not_post"

    @property
    def rank(self) -> int:
        return {"ok": 0, "caution": 1, "do_not_post": 2}[self.value]


class Where(StrEnum):
    COUNCIL = "council"
    PERSONAL = "personal"


class Platform(StrEnum):
    FACEBOOK = "facebook"
    TWITTER = "twitter"
    INSTAGRAM = "instagram"
    YOUTUBE = "youtube"


class Role(StrEnum):
    COUNCILLOR = "councillor"
    OFFICER = "officer"
    CLERK = "clerk"
    DEPUTY_CLERK = "deputy_clerk"
    ASSISTANT_CLERK = "assistant_clerk"
    MODERATOR = "moderator"
    CHAIR = "chair"
