"""The same typed words give the same outcome on Slack, Teams and in the terminal, and the same as
the Slack slash command of that name: the core reads typed text once, with one table.

Before, Teams read its own list of commands and the core another: typed in a DM, "report",
"flag", "export json" and "people add ..." acted on Teams but got the "check it or look it up?"
buttons on Slack and in the terminal."""

from __future__ import annotations

from councilbot.kinds import Role

from .conftest import Door

ASK_WHICH = "Is this a post you want checked"
# (who types, what they type, what they must be shown). ``{bob}`` is a new person's id, typed as
# that platform delivers it (a Slack @mention arrives as <@U0BOB>).
TYPED = [
    ("councillor", "report", "Report threats or abuse"),  # the form, as /report opens it
    ("councillor", "/report", "Report threats or abuse"),
    ("clerk", "flag", "Flag for Code of Conduct"),
    ("clerk", "export json", "Approved posts (JSON)"),
    ("clerk", "/councilbot export json", "Approved posts (JSON)"),
    ("clerk", "export", "Approved posts (CSV)"),
    ("clerk", "people add {bob} councillor Bob Hill", "is now councillor"),
    ("clerk", "people", "Add with: people add"),
    ("clerk", "pending", "Nothing is waiting for a decision"),
    ("clerk", "reports", "No reports to show"),
    ("clerk", "flags", "No posts have been flagged"),
    ("clerk", "moderation", "Record a moderation action"),
    ("clerk", "escalate S-2026-0001 we disagree", "Escalation is not part of this council's policy"),
    ("councillor", "election list", "No elections are set up"),
    ("clerk", "link R-2026-0001 R-2026-0002", "There is no report R-2026-0001 that you can see"),
    ("councillor", "evidence R-2026-0001 https://facebook.com/posts/1", "There is no report R-2026-0001 that you can see"),
    ("councillor", "Evidence of a great turnout at the fete!", "OK to post"),
    ("councillor", "home", "Your items"),
    ("councillor", "help", "I help Alsager Town Council"),
    ("councillor", "suggest Litter pick on Saturday", "Suggest a post"),
    ("councillor", "policy photos of children", "From the policy"),
    ("councillor", "checkpost Our litter pick is on Saturday at 10am, all welcome!", "OK to post"),
    ("councillor", "/frobnicate", "I don't know"),
    # Drafts and questions that start with a command's word stay drafts and questions.
    ("councillor", "Report on tonight's meeting: great turnout!", "OK to post"),
    ("councillor", "People of Alsager, the fete is on Saturday!", "OK to post"),
    ("councillor", "Can I post photos of children?", "From the policy"),
    ("councillor", "Lovely evening at the park", ASK_WHICH),
]


async def test_the_same_typed_words_do_the_same_on_every_platform(door: Door) -> None:
    typed_as, bob = door.person_id("bob")
    wrong: list[str] = []
    for who, text, expected in TYPED:
        drafts_before = len((await door.bot.store.find("drafts")))
        shown = await door.type(who, text.format(bob=typed_as))
        asked_which = len((await door.bot.store.find("drafts"))) > drafts_before  # kept for "check it or look it up?"
        if expected not in shown or (ASK_WHICH in shown or asked_which) != (expected == ASK_WHICH):
            wrong.append(f"{door.platform}: {text!r} showed {shown[:300]!r}")
    assert not wrong, "\n".join(wrong)
    assert door.bot.people.role(bob) is Role.COUNCILLOR  # the same record made on every platform


async def test_every_word_a_platform_advertises_is_read_by_the_core(tmp_path) -> None:
    """Teams' command menu and Slack's slash commands and /councilbot's usage hint list words a
    person will type: each must be a typed command in the core's table, routed to a handler."""
    from pathlib import Path

    import yaml

    from councilbot_adapters.teams.package import PERSONAL_COMMANDS, TEAM_COMMANDS
    from councilbot import typed
    from councilbot.app import CouncilBot
    from councilbot.config import Settings

    manifest = yaml.safe_load((Path(__file__).parents[2] / "adapters" / "councilbot_adapters" / "slack" / "manifest.yml").read_text())
    slash = {c["command"].lstrip("/"): c for c in manifest["features"]["slash_commands"]}
    admin = slash.pop("councilbot")["usage_hint"]
    words = {w.split()[0] for w in admin.split(" | ")} | set(slash)
    words |= {title for title, _ in PERSONAL_COMMANDS + TEAM_COMMANDS if title != "set clerk channel"}  # Teams plumbing
    bot = CouncilBot.from_settings(Settings(council="alsager", data_dir=tmp_path))
    try:
        for word in sorted(words):
            example = {"escalate": "escalate S-2026-0007 why", "people": "people add slack:U1 councillor",
                       "export": "export json"}.get(word, word)
            found = typed.command(example)
            assert found is not None and found[0] == word, word
            assert word in bot.router.commands, word
    finally:
        await bot.stop()
