"""The privacy notice and terms of use that ``councilbot serve`` shows at ``/privacy`` and
``/terms``: Teams requires both links in an app package, and people using the bot are owed them.

Written from what this installation actually does: the council's name and roles from its pack,
the retention periods the code applies, the platforms the config turns on, and the contact the
config gives. Short, plain HTML, no scripts, nothing fetched from elsewhere."""

from __future__ import annotations

from html import escape

from .config import Settings
from .kinds import Role
from .pack import Pack

HOME_PATH = "/"
PRIVACY_PATH = "/privacy"
TERMS_PATH = "/terms"
# How long the code keeps what is not a council record (see CouncilBot.housekeeping).
DELIVERED_COPY_DAYS = 90
WAITING_MESSAGE_HOURS = 24

_STYLE = ("body{font-family:system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1b1b1b}"
          "h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:1.6rem}")


_GROUPS = {Role.MODERATOR: "the moderators", Role.COUNCILLOR: "councillors", Role.OFFICER: "officers",
           Role.CHAIR: "the Chair of the Council"}


def _role(role: Role) -> str:
    return _GROUPS.get(role) or "the " + " ".join(word.capitalize() for word in role.value.split("_"))


def _roles(roles: tuple[Role, ...]) -> str:
    names = [_role(r) for r in roles]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _platforms(settings: Settings) -> str:
    on = [name for name, used in (("Slack", settings.slack.bot_token), ("Microsoft Teams", settings.teams.app_id)) if used]
    return " and ".join(on) if on else "the council's chat system"


def _contact(pack: Pack, settings: Settings) -> str:
    """The Clerk is who people ask; the config may give an address, the pack the council's own words."""
    lines = [f"<p>Contact the Clerk of {escape(pack.council)}"
             + (f": {escape(settings.contact)}." if settings.contact else ".") + "</p>"]
    if pack.contact_line:
        lines.append(f"<p>{escape(pack.contact_line)}</p>")
    return "\n".join(lines)


def _page(title: str, body: str) -> str:
    return (f'<!doctype html>\n<html lang="en-GB">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{escape(title)}</title>\n'
            f"<style>{_STYLE}</style>\n</head>\n<body>\n<h1>{escape(title)}</h1>\n{body}\n</body>\n</html>\n")


def home_page(pack: Pack, settings: Settings) -> str:
    """The Teams package's website link (``https://HOST/``): what this is, and the two notices."""
    body = f"""<p>CouncilBot helps {escape(pack.council)}'s councillors and staff use social media within the Council's
policy, in {escape(_platforms(settings))}. It is not a public service: there is nothing to sign up to here.</p>
<ul>
<li><a href="{PRIVACY_PATH}">Privacy notice</a>: what is kept, for how long, and your rights.</li>
<li><a href="{TERMS_PATH}">Terms of use</a>.</li>
</ul>
{_contact(pack, settings)}"""
    return _page(f"CouncilBot for {pack.council}", body)


def privacy_page(pack: Pack, settings: Settings) -> str:
    council = escape(pack.council)
    r = pack.roles
    days = pack.reports.retention_days
    body = f"""<p>{council} runs CouncilBot for its councillors and staff, in {escape(_platforms(settings))}. The Council is
responsible for the information it keeps (the data controller), and its Clerk looks after it.</p>

<h2>What is kept</h2>
<ul>
<li>Your chat id, your role (for example councillor or clerk) and, if the Clerk added it, your name.</li>
<li>Reports you make: what happened, when and where, and any links or screenshots you give; who received,
read, acknowledged or closed them, and their notes.</li>
<li>Posts suggested for the Council's pages, and the decisions and comments on them.</li>
<li>Code of Conduct reminders and moderation records.</li>
<li>A log of who did what (for example who read a report), for the Council's records.</li>
<li>Copies of messages the bot still has to deliver.</li>
</ul>
<p>Drafts you check and questions you ask are not kept. The only exception is a message you send without
saying whether to check it or look it up: it is kept until you choose, for {WAITING_MESSAGE_HOURS} hours at most.
The server's logs never contain what anyone wrote, or names.</p>

<h2>Who can see it</h2>
<p>A report goes only to {escape(_roles(r.receive_reports))}. A report about one of them goes to
{escape(_roles(r.report_fallback))} instead, and the person it is about cannot see it. Suggested posts are seen by
those who approve them ({escape(_roles(r.approve_posts))}).</p>

<h2>How long it is kept</h2>
<ul>
<li>Reports: until they are closed, then {days} days, after which they are deleted automatically.</li>
<li>Copies of delivered messages: {DELIVERED_COPY_DAYS} days after delivery.</li>
<li>Suggestions, decisions, reminders, moderation records and the log: as the Council's records, until the
Council deletes them or you ask for yours to be erased.</li>
</ul>

<h2>Your rights</h2>
<p>You can ask for a copy of what is held about you, for it to be corrected, or for it to be erased. Ask the
Clerk; the Clerk can export or erase a person's records. You can also complain to the Information
Commissioner's Office (ico.org.uk).</p>

<h2>Who to contact</h2>
{_contact(pack, settings)}"""
    return _page(f"CouncilBot privacy notice: {pack.council}", body)


def terms_page(pack: Pack, settings: Settings) -> str:
    council = escape(pack.council)
    note = f"<p>{escape(pack.approval_note)}</p>\n" if pack.approval_note else ""
    body = f"""<p>CouncilBot is provided by {council} for its councillors and staff, in {escape(_platforms(settings))}, to put
the Council's social media policy ({escape(pack.source)}) into daily practice.</p>

<h2>What its answers mean</h2>
<p>A check of a draft post is advice from software, not legal advice and not a decision of the Council.
"OK to post" means nothing was found; "caution" means ask first. When in doubt, ask the Clerk.</p>
{note}
<h2>Reports</h2>
<p>Reports of threats, abuse or harassment go to the Clerk in confidence. CouncilBot is not an emergency
service: if anyone is in immediate danger, call 999; for non-emergencies call 101.</p>

<h2>Using it</h2>
<p>Use it for the Council's business, and never to harass anyone or to make false reports. The Council
may remove anyone's access. What is kept, and for how long, is in the <a href="{PRIVACY_PATH}">privacy notice</a>.</p>

<h2>Who to contact</h2>
{_contact(pack, settings)}"""
    return _page(f"CouncilBot terms of use: {pack.council}", body)
