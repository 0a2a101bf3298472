"""What the council's pages carry and do not: politics, adverts, confidential business, copied
work, personal views as the council's, breaking the law, security, channels and who directs posts."""

from __future__ import annotations

from typing import Iterable

from ..kinds import RuleKind
from ..text import Doc
from .conduct import patterns
from . import Context, Detector, Hit, Rule, rx

K = RuleKind

# The parties have their capitals: "labour costs", "Labour Day", "a conservative estimate", the bowling
# greens and "Party in the Park" are not politics.
_PARTY = r"(?:(?-i:Labour)(?! (?:Day|[Ww]ard|[Mm]arket|[Cc]osts?|[Ss]hortages?))|(?-i:Conservatives?)|tory|tories|lib ?dems?|liberal democrats?|reform uk|reform party|green party|(?-i:the Greens)|ukip|plaid cymru|snp|independents? for \w+|(?:my|our|the) party(?:'s)? (?:manifesto|leader|leadership|candidates?|members?|policy|policies|whip|conference|colleagues))"
_POLITICAL: list[Rule] = [
    (rx(rf"\bvote\s+(?:for\s+)?(?:me|us|{_PARTY}|(?:your|the) (?:local )?{_PARTY}|(?:labour|conservative|tory|lib dem|green|reform|independent) candidate)\b"), "asking for votes for a party or candidate", "strong"),
    (rx(r"\b(?:re-?elect(?: me)?|vote (?:me|us) (?:in|back)|my (?:re-?)?election campaign|campaign(?:ing)? (?:for|trail)|canvass(?:ing|ed)?|on the doorstep(?:s)? for|election leaflet|manifesto|polling day.{0,40}(?:vote|support)|support (?:me|our candidate) (?:on|at) the (?:election|polls?))\b"), "election campaigning", "strong"),
    (rx(rf"\b(?:{_PARTY}|the government|this government|keir starmer|starmer|rishi sunak|sunak|nigel farage|farage|kemi badenoch|badenoch|ed davey|the prime minister|westminster|our mp)\b[^.!?\n]{{0,80}}\b(?:disastrous|failed|failing|failure|useless|disgrace|incompetent|lies|lying|betray\w*|destroy\w*|ruin\w*|shambles|chaos|broken promises|can't be trusted|cannot be trusted|out of touch|to blame|fault)\b"), "a party-political opinion", "strong"),
    (rx(rf"\b(?:proud (?:member|supporter) of|join|support|back(?:ing)?|standing for|stand for)\s+(?:the\s+)?{_PARTY}\b"), "support for a political party", "strong"),
    (rx(rf"\b(?:{_PARTY}(?:-run|-led)?|green party|green councillor|conservative candidate|labour candidate|lib dem candidate|independent candidate)\b"), "party politics", "strong"),
    (rx(r"\b(?:standing (?:again )?(?:as|for) (?:an? |your )?(?:independent|candidate|councillor)|(?:your|our) (?:\w+ )?candidate|please vote for|your vote matters|party petition|leaflets for|change at westminster|government's cuts|whichever party|(?:this|the) administration (?:has|is)|administration has made)\b"), "election or party-political content", "strong"),
    (rx(r"\b(?:(?:this|the|westminster|tory|labour|conservative) government(?:'s)?\b[^.!?\n]{0,80}\b(?:forgotten|disaster|failed|failing|cuts|betray\w*|abandon\w*|useless|shambles)|time for a change (?:at|in) (?:county hall|westminster|downing street|the town hall)|voting (?:green|labour|tory|tories|conservative|lib dem|reform|independent|ukip)|vote (?:green|labour|tory|conservative|lib dem|reform) )"), "a party-political view", "strong"),
    (rx(r"\bwhich (?:party|candidate) (?:promised|voted|pledged|said|wants|cut|closed)\b|\bwhich party\b[^.!?\n]{0,60}\b(?:remember|vote|trust)\b|\b(?:remember|don't forget) (?:this|that|who|which party) (?:at|on|come) (?:the )?(?:ballot box|polls?|election|polling day)\b"), "party-political electioneering", "strong"),
    (rx(r"\bgovt\b[^.!?\n]{0,80}\b(?:abandon\w*|forgotten|cut\w*|failed|failing|useless|betray\w*|disgrace|shambles)|#ge\d{2,4}\b|#generalelection\d{0,4}\b|#localelections?\d{0,4}\b"), "a party-political view", "strong"),
    (rx(r"\b(?:brexit|remoaners?|leavers?|woke|tory cuts|labour's (?:tax|plan|policies)|tax and spend)\b"), "a national political topic", "strong"),
]

_ADVERT: list[Rule] = [
    (rx(r"\b\d{1,2}\s?% off\b|\b(?:discount code|promo code|voucher code|coupon|use code \w+)\b"), "a discount offer", "strong"),
    (rx(r"\b(?:special offer|limited (?:time )?offer|buy now|shop now|order now|best prices?|lowest prices?|free quotes?|free estimates?|\d for \d on|(?:2|two)[- ]for[- ](?:1|one)|mention (?:the (?:town |parish )?council|us|cllr \w+|this post|our page) (?:when|at the till|to get|for)|show this (?:post|message) at the till|mention this post|tell them (?:the (?:town )?council|we|i|cllr \w+) sent you|quote (?:code )?\w+ for|competitive rates|call us (?:today|now)|dm (?:us|me) for (?:prices|a quote)|book (?:your|a) (?:free )?(?:consultation|quote)|mates'? rates)\b"), "commercial promotion", "strong"),
    (rx(r"\b(?:my|our|my (?:husband|wife|son|daughter|brother|sister|friend)'s|his|her)\s+(?:new\s+)?(?:business|shop|company|salon|cafe|café|restaurant|firm|store|bakery|garage)\b[^.!?\n]{0,60}\b(?:open|offer|sale|discount|prices?|visit|pop in|book|order|call)\b"), "promoting a private business", "strong"),
    (rx(r"\b(?:grand opening sale|clearance sale|half price|bogof|buy one get one)\b"), "a sale", "strong"),
]

_CONFIDENTIAL: list[Rule] = [
    (rx(r"\b(?:in|during|from) the (?:closed|private|confidential|secret|exempt) (?:bit|part|section|end|portion|half|item) of (?:the|last night's|tonight's|yesterday's|today's|this week's|(?-i:[A-Z][a-z]+day)'s) (?:meeting|session|agenda)\b[^.!?\n]{0,80}\b(?:agreed|decided|heard|voted|resolved|discussed|told|revealed|learn(?:ed|t)|found out)\b"), "telling what the closed part of a meeting heard", "strong"),
    # Saying that an item "was taken in closed session" is what public minutes do; telling what
    # was said there is the breach.
    (rx(r"\b(?:(?<!taken )(?<!held )(?<!considered )(?:in|under|during) part (?:2|ii|two)\b|part (?:2|ii|two) (?:item|session|business|agenda|report|minutes|discussion|meeting)s?|exempt (?:item|business|information|report)|(?<!taken in )(?<!held in )(?<!considered in )(?<!at a )closed session|in camera|private session|confidential (?:item|session|report|minutes|papers|briefing|meeting|discussion|email|matter|information)|confidential(?:ly)? (?:discussed|agreed)|behind closed doors|not for publication|not (?:yet )?public|off the record|strictly confidential|commercially sensitive|under embargo|embargoed)\b"), "confidential council business", "strong"),
    (rx(r"\b(?:keep (?:this|it) (?:quiet|between us|to yourselves)|don't tell anyone|you didn't hear (?:this|it) from me|leaked|i'm not supposed to (?:say|tell|share)|i shouldn't (?:really )?(?:say|tell|share)|between you and me|between us,|met privately|not supposed to say|not a public meeting|wasn't a public meeting|non-public|not for (?:public|general) (?:consumption|release)|you heard it here first|don't share|internal (?:working group|emails?|memo|review)|(?:the clerk's|officers') internal)\b"), "sharing something not meant to be public", "strong"),
    (rx(r"\b(?:press and public|public and press|the public) (?:were|was|had been|having been) excluded\b[^.!?\n]{0,120}\b(?:agreed|decided|resolved|voted|discussed|heard|considered)\b"), "reporting business taken with the public excluded", "strong"),
    (rx(r"\b(?:sat in|was in|been in|came out of|just (?:left|out of)) (?:a|the|last night's|today's|tonight's|yesterday's) (?:closed|private|secret|confidential|closed-door|behind-closed-doors) (?:meeting|session|briefing)\b|\b(?:can't|cannot|not allowed to) say (?:much|more|too much)(?:,)? but\b"), "hinting at a closed meeting's business", "strong"),
    (rx(r"\b(?:private|internal|closed|confidential) (?:meeting|session|discussion|briefing|email|e-mail|papers?|minutes)\b[^.!?\n]{0,80}\b(?:said|agreed|decided|revealed|discussed|told|showed|shows)\b"), "reporting a private or internal meeting", "strong"),
]

_COPYRIGHT: list[Rule] = [
    (rx(r"\b(?:ripped|pirated|torrent(?:ed|s)?|bootleg|cracked (?:copy|version)|full (?:movie|film|album|match|episode)s? (?:free|here|link|online)|free download of (?:the )?(?:film|movie|album|book|song)|watch (?:the )?(?:match|film|movie) free|found (?:this|it|the photo|the picture|the image) (?:on|via) (?:google|the internet|online)|screenshotted from|copied (?:it |this )?(?:straight )?from (?:the|their|a) (?:newspaper|paper|website|photographer))\b"), "material copied without permission", "strong"),
    (rx(r"\b(?:set to|soundtracked by|with|featuring) (?:the )?(?:full |whole |entire )?(?:track|song|album|soundtrack) (?:of|by|from)|\bfull (?:track|song|album) (?:of|by)\b"), "using music without a licence", "strong"),
    (rx(r"\b(?:paywall|scanned the (?:whole|entire) (?:of )?|free pdf (?:here|of)|don't buy it|copied (?:it |this )?(?:word for word|in full)|full text of (?:this week's|the|today's) )"), "copying someone else's work", "strong"),
    (rx(r"\bfound (?:it|this|them|the (?:photo|picture|pic|image|shot|video|clip)) on (?:a|an|some|someone's) (?:[\w-]+'s )?(?:instagram|facebook|twitter|tiktok|page|website|feed|account)\b|\bfound (?:the|this|that|a) (?:photo|picture|pic|image|shot|video|clip|drone shot) on (?:the |their |a |an |some |someone's )?(?:[\w-]+'s )?(?:instagram|facebook|twitter|tiktok|page|website|feed|account|google)\b"), "using someone else's photo or video found online", "strong"),
    (rx(r"\b(?:grabbed|nicked|pinched|lifted|stole|swiped|snaffled) (?:it|this|that|them|these|the (?:photo|picture|pic|image|video|clip|article|shot)s?) (?:off|from) (?:the |their |his |her |a |an |some )?(?:\w+'s? )?(?:website|site|page|facebook|instagram|twitter|feed|paper|newspaper|article|account|channel|google)"), "using someone else's photo, video or writing without permission", "strong"),
    (rx(r"\bfrom (?:the |a )?(?-i:[A-Z][\w']+)(?:'s)? (?:photographer|cameraman|archive|photo desk)\b(?![^.!?\n]{0,60}(?:permission|used with|courtesy|©|credit))",
        need=("photographer", "cameraman", "archive", "photo desk")), "using someone else's photo without permission", "strong"),
    (rx(r"\bhope (?:the (?:photographer|paper|owner|artist|band|label|record label|newspaper)) (?:don't|doesn't|won't) (?:mind|notice|sue|come after)|\b(?:record label|copyright police)\b[^.!?\n]{0,30}\b(?:come after|sue|notice|mind)"), "using someone else's work and hoping it goes unnoticed", "strong"),
    (rx(r"\bset (?:it |this |the (?:video|film|clip) )?to (?:(?-i:[A-Z][\w'’]*|the|of|a|an|in|on|and|to|for|my|me|you)\s?){1,7}(?:by|from) (?-i:[A-Z])|\b(?:soundtrack|music|song|track|tune)s?\s*[:\-–]\s*(?:(?-i:[A-Z][\w'’]*|the|of|a|an|in|on|and|to|for|my|me|you)\s?){1,7}by (?-i:[A-Z])|\b(?:soundtrack|backing track)(?: is)? (?:by|from) (?-i:[A-Z][\w'’]+)"), "using music without a licence", "strong"),
    (rx(r"\b(?:removed the watermark|cropped (?:out )?the watermark|without crediting|no need to credit)\b"), "using someone's work without credit", "strong"),
    (rx(r"\b(?:cropped|removed|took|edited|photoshopped|cut) (?:out |off )?(?:the|his|her|their)(?: \w+'s)? watermarks?|\bwatermarks? (?:cropped|removed|taken) off\b", need=("watermark",)), "removing the photographer's watermark", "strong"),
    # A picture, then where it was found: "Found this on the Cheshire East website: new bin dates" is a link.
    (rx(r"\b(?:photo|picture|pic|image|shot|video|clip|footage)s?\b[^.!?\n]{0,80}\bfound (?:it|this|them) on (?:the |a |an )?(?-i:[A-Z][\w'’-]+)(?: (?-i:[A-Z][\w'’-]+)){0,3}(?:'s|’s)? (?:website|site|page|feed|instagram|facebook|account)\b|\bfound the (?:photo|picture|pic|image|shot|video|clip) on (?:the |a |an )?(?-i:[A-Z][\w'’-]+)(?: (?-i:[A-Z][\w'’-]+)){0,3}(?:'s|’s)? (?:website|site|page|feed|instagram|facebook|account)\b",
        need=("found",)), "using someone else's photo or video found online", "strong"),
]

_OPINION: list[Rule] = [
    (rx(r"\bwe (?:all )?(?:think|feel|believe|reckon)\b[^.!?\n]{0,80}\b(?:eyesore|disgrace|shambles|rubbish|terrible|appalling|awful|a joke|waste of money|should never have|ridiculous|pathetic)"), "an opinion voiced as the council's", "strong"),
    (rx(r"\b(?:the|this|our|(?-i:[A-Z][a-z]+)(?: (?-i:[A-Z][a-z]+))?) (?:town |parish )?council (?:thinks|believes|feels|considers|is of the (?:view|opinion)|is (?:disgusted|appalled|furious|outraged|sick|fed up|embarrassed|ashamed|horrified)|hates|despises|agrees with me|says (?:that )?(?:the|this) \w+ (?:is|are) (?:a )?(?:disgrace|rubbish|terrible|appalling|awful|shambles|joke))\b"), "a personal opinion presented as the council's", "strong"),
    (rx(r"\bwe (?:at|on) the (?:town |parish )?council\b(?:\([^)]{0,80}\)|[^.!?\n]){0,120}\b(?:think|feel|believe|reckon|hate|love|are (?:sick|fed up|disgusted))\b"), "an opinion voiced as the council's", "strong"),
    (rx(r"\b(?<!not )(?<!n't )speaking (?:for|on behalf of) (?:the )?(?:whole )?(?:(?-i:[A-Z][a-z]+) ){0,3}(?:town |parish )?council\b[^.!?\n]{0,40}\b(?:we are|we're|i am|i'm|we|i) (?:\d+% |totally |completely |firmly )?(?:against|opposed|oppose|support|think|believe|will fight|hate)\b"), "speaking for the council", "strong"),
    (rx(r"\bcouncil'?s (?:position|view|stance|line)\b[^.!?\n]{0,30}[:–-][^.!?\n]{0,80}\b(?:disaster|disgrace|shambles|farce|joke|waste of money|rubbish|nonsense|scrapped|madness)\b"), "a personal judgement given as the council's position", "strong"),
    (rx(r"\b(?:(?<!not )(?<!n't )speaking (?:for|on behalf of) the (?:whole )?council|on behalf of the (?:whole )?council,? i (?:personally )?(?:think|believe|feel|say)|as the council'?s (?:official )?(?:view|position),? i|the council'?s (?:official )?(?:view|position|opinion) is that (?:i|my))\b"), "speaking for the council", "strong"),
    (rx(r"\b(?:i|we) (?:personally )?(?:think|believe|feel)\b[^.!?\n]{0,60}\band so does the (?:whole )?(?:town |parish )?council\b"), "a personal view attributed to the council", "strong"),
]

_CONTRARY: list[Rule] = [
    (rx(r"\b(?:voted|decided|resolved|agreed) (?:to|for|against) [^.!?\n]{0,80}[.!?]\s*(?:we|i) (?:think|believe|feel|reckon) (?:that's|that is|it's|it is|it was|this is|they've made) (?:the |a |completely |totally )?(?:wrong|mistake|bad call|terrible|poor|madness)|\b(?:voted|decided|resolved|agreed) to (?:scrap|cancel|close|stop|end|remove|cut)\b[^.!?\n]{0,80}[.!?][^.!?\n]{0,80}\b(?:please|do|go and|we urge you to|we'd ask you to) sign (?:the|our) petition\b"), "the council's page disagreeing with the council's decision", "strong"),
    (rx(r"\b(?:despite|ignore|ignoring|disregard(?:ing)?|defy(?:ing)?|won't (?:follow|accept|respect)|will not (?:follow|accept|respect)|don't (?:follow|accept|comply with)|refuse to (?:follow|accept|comply with))\s+(?:what\s+)?(?:the\s+)?(?:town\s+)?council(?:'s)?\s+(?:decision|decided|vote|voted|resolution|resolved|policy)\b"), "going against a decision of the council", "strong"),
    (rx(r"\bdespite (?:what|how) (?:was|were|the council|councillors|members|we|they) (?:voted|decided|resolved|agreed)\b|\b(?:voted|decided|resolved|agreed) (?:to|for|against) [^.!?\n]{0,80}\bbut (?:between us|nobody|we|i|you)\b[^.!?\n]{0,60}\b(?:won't|will not|isn't|aren't|anyway|ignore|don't)|\bdespite (?:[\w']+\s+){0,3}(?:vote|decision|resolution)\b|\b(?:voted|decided|resolved|agreed)(?: through| to \w+| for| against)?\b[^.!?\n]{0,80}\bbut\b[^.!?\n]{0,40}\b(?:not happening on my watch|not on my watch|over my dead body|needn't (?:pay|follow|bother with|comply)|don't have to (?:pay|follow|comply)|no need to (?:pay|follow|comply)|i'll be (?:urging|telling) (?:everyone|every|people|residents|groups))|\b(?:voted|decided|resolved|agreed) (?:to|for|against) [^.!?\n]{0,80}\bbut\b[^.!?\n]{0,30}\b(?:nobody|no one|no-one)(?:'ll| will)(?: be)? (?:enforc\w*|check\w*|polic\w*|fin\w*|bother\w*)|\b(?:council|committee) (?:voted|decided|resolved|agreed) to [^.!?\n]{0,80}\bbut (?:we|i)(?:'ll| will| are going to|'re going to| are) "), "going against a decision of the council", "strong"),
    (rx(r"\b(?:the council(?:'s)? (?:decision|vote|resolution) (?:is|was) (?:wrong|a disgrace|a mistake|rubbish|a joke|stupid|shameful)|the council got it (?:badly |completely )?wrong|overturn the (?:council's )?(?:decision|vote|resolution)|boycott (?:the council's|the new)|i (?:voted against|opposed) (?:it|this|the \w+)[^.!?\n]{0,60}(?:ignore|wrong|disgrace|don't|won't))\b"), "contradicting a democratic decision of the council", "strong"),
]

_UNLAWFUL: list[Rule] = [
    (rx(r"\b(?:drugs? for sale|selling (?:weed|cannabis|coke|cocaine|pills)|(?:buy|get) (?:weed|cannabis|coke|cocaine) (?:from|here)|fake (?:id|ids|mot|certificates?|tickets|documents)|avoid paying (?:your )?(?:council tax|tv licen[cs]e|tax|parking fines?)|don't pay (?:your )?(?:council tax|fines?|tv licen[cs]e)|dump (?:your|the) rubbish (?:in|at|on|behind)|fly-?tip (?:it|them|your)|ignore the (?:parking|speed) (?:restrictions|limit|signs)|untaxed cash|cash in hand,? no questions asked|don't bother paying|put your foot down|(?:camera|cameras)[^.!?\n]{0,60}(?:doesn't|hasn't|isn't|never) (?:work|worked|working)|(?:pull|rip|tear|knock|kick) (?:out|down|up|over) (?:those|the|these|that) [\w ]{0,30}(?:bollards?|signs?|cameras?|fences?|barriers?|planters?)|ignore the (?:road )?(?:closed|closure|no entry|parking|speed) (?:signs?|restrictions|limit)|the police never check|rip (?:the|a) [\w ]{0,20}(?:machine|sign|camera) off)\b"), "encouraging breaking the law", "strong"),
    (rx(r"\b(?:(?:be a )?shame if (?:they|it|they all|something|those|that|someone's)\b[^.!?\n]{0,40}\b(?:accidentally|went missing|caught fire|ended up in the (?:mere|river|canal|pond|lake|brook|skip))|(?:fake|homemade|our own|a few|some|my own)\s+['\"‘“]?(?:road closed|no entry|diversion|no through road|private road|no parking)['\"’”]?\s+signs?)"), "hinting at damage or deceiving road users", "strong"),
    (rx(r"\b(?:tin ?foil|foil|dirty|muddy|covered|obscured|fake) (?:or (?:a |an )?(?:\w+ )?)?(?:number|reg(?:istration)?) plates?\b[^.!?\n]{0,60}\b(?:can't (?:touch|catch|see|read)|won't (?:catch|see|read|clock)|beat|dodge|avoid|get away)",
        need=("plate",)), "a tip for dodging speed cameras", "strong"),
    (rx(r"\b(?:a few|some|a couple of) keyed (?:[\w-]+ ){0,2}(?:cars?|range rovers?|vans?|motors?|4x4s?)\b|\b(?:should|might|could|would)\b[^.!?\n]{0,30}\bkey(?:ed|ing)? (?:their|his|her|the|a few|some) (?:[\w-]+ ){0,2}(?:cars?|range rovers?|vans?|motors?|4x4s?)\b",
        need=("key",)), "encouraging damage to property", "strong"),
    (rx(r"\bfair game (?:after dark|at night|if nobody'?s looking)\b"), "encouraging theft", "strong"),
    (rx(r"\b(?:skip|avoid|dodge|get away without) (?:buying|paying for|paying) (?:a |the |your )?(?:ticket|parking|fare)\b|\b(?:enforcement officers?|parking wardens?|traffic wardens?|wardens|ticket inspectors?) (?:never|don't|do not|rarely|won't) (?:come|check|patrol|bother|turn up)\b[^.!?\n]{0,60}\b(?:so (?:you|people|we) can|you can (?:skip|risk|get away|leave it)|no need to (?:pay|buy))"), "a tip for dodging parking charges or fares", "strong"),
    (rx(r"\b(?:naming|name) (?:the|a) (?:victim|juror|child in the case)|contempt of court|before the trial[^.!?\n]{0,40}(?:guilty|did it)\b"), "risking contempt of court", "strong"),
]

_SECURITY: list[Rule] = [
    (rx(r"\b(?:password|passcode|pin|login|log-?in (?:details|code)|username and password|2fa code|one-?time code|verification code|security code|access code)\s*(?:is|=|:|for [^.!?\n]{0,30} is)\s*\S+"), "sharing a password or login code", "strong"),
    (rx(r"\b(?:download|install)\s+(?:this|the|our|my|a|it)?\s*(?:free\s+|new\s+|handy\s+|great\s+|amazing\s+)*(?:app|software|program|programme|plugin|plug-in|extension|tool|freeware|shareware|crack|keygen|apk|exe|add-?on)\b"), "a link to software the Clerk has not approved", "strong"),
    (rx(r"\b(?:download|install)\b[^.!?\n]{0,60}\bfrom\s+\S+\.(?:xyz|top|ru|info|biz|click|online|site|io|com|net|co|app)\b|\b(?:browser )?(?:plugin|plug-in|extension)\b[^.!?\n]{0,40}\binstall\b"), "software the Clerk has not approved", "strong"),
    (rx(r"\blog-?\s?in\b[^.!?\n]{0,40}\b(?:it's|is|:|as|with)\s*\S+\s*/\s*\S+"), "sharing account login details", "strong"),
    (rx(r"\bhttps?://\S+\.(?:exe|apk|msi|zip|dmg|bat|scr)\b|\b\w+\.(?:exe|apk|msi|scr)\b"), "a link to a program file", "strong"),
    (rx(r"\b(?:password|passcode|username|user ?name|login)\s+(?=[^\s,;]*[a-z])(?=[^\s,;]*[\d!@#$%^&*])[^\s,;]{4,}"), "sharing a password or login", "strong"),
    (rx(r"\b(?:app|software|program|programme|plugin|plug-in|extension|download|install)\w*\b[^\n]{0,120}\bnot (?:yet )?(?:on (?:the|our) approved list|officially approved|approved by the clerk)\b|\bnot official,? but\b[^.!?\n]{0,80}\b(?:app|download|install|better)|\b(?:download|install|get)\b[^.!?\n]{0,60}\bnot (?:official|approved)\b|\bunofficial app\b"), "software the Clerk has not approved", "strong"),
    (rx(r"\b(?:share (?:the|our) (?:account|page) (?:login|password)|here(?:'s| is| are) the (?:login|password|log-in details))\b"), "sharing account access", "strong"),
]

_DIRECTION: list[Rule] = [
    (rx(r"\b(?:cllr|councill?or|the chair(?:man)?|the mayor|the leader)\.?\s*(?:(?-i:[A-Z][a-z]+)\s+){0,2}(?:has\s+)?(?:asked|told|instructed|wants|requested)\s+(?:us|the office|me|the clerk)\s+to\s+(?:let (?:everyone|you all|residents|people|you) know|tell (?:everyone|residents|people|you)|announce|remind (?:everyone|residents|people|you)|say)\b"), "a post made at a councillor's request", "strong"),
    (rx(r"\bat (?:the )?(?:chair(?:man)?|mayor|leader|cllr \w+|councill?or \w+)'s (?:request|direction|insistence|behest|instruction),? (?:we(?:'re| are)|i(?:'m| am)|the office is) (?:posting|sharing|publishing|putting)\b",
        need=("'s request", "'s direction", "'s insistence", "'s behest", "'s instruction")), "a post made at a councillor's request", "strong"),
    (rx(r"\b(?:(?:cllr|councill?or|the chair(?:man)?|the mayor|the leader)\.?\s*(?:[A-Z][a-z]+\s+){0,2}(?:has\s+)?(?:asked|told|instructed|directed|wants|insisted|requested)\s+(?:me|us|the office|the clerk)?\s*(?:to\s+)?(?:post|share|publish|tweet|put (?:this|it) (?:up|out|on))|(?:at the|at) (?:request|direction|insistence|behest) of (?:cllr|councill?or|the chair(?:man)?|the mayor|councillors)|(?:posting|sharing|publishing|putting|tweeting) this (?:up )?(?:for|on behalf of) (?:the )?(?:chair(?:man)?|mayor|cllr|councill?or)|as (?:requested|instructed|directed) by (?:cllr|councill?or|the chair(?:man)?|the mayor)|on behalf of (?:cllr|councill?or)\.?\s*[A-Z]?\w*|(?:the|a) group of councillors (?:has |have )?(?:asked|want))"), "a post made at a councillor's direction", "strong"),
    (rx(r"\b(?:post|posting|share|sharing|publish|publishing|put|putting)\b[^.!?\n]{0,40}\bat (?:the )?(?:chair(?:man)?|mayor|leader|cllr \w+|councill?or \w+)'s (?:request|direction|insistence|behest|instruction)",
        need=("'s request", "'s direction", "'s insistence", "'s behest", "'s instruction")), "a post made at a councillor's request", "strong"),
]


def unapproved_channel(doc: Doc, ctx: Context) -> Iterable[Hit]:
    if ctx.where == "council" and ctx.platform and ctx.platform not in ctx.approved_channels:
        yield Hit(K.UNAPPROVED_CHANNEL, 0, 0, f"{ctx.platform.title()} is not an approved channel for the council")


DETECTORS: dict[RuleKind, Detector] = {
    K.POLITICAL: patterns(K.POLITICAL, _POLITICAL),
    K.ADVERTISING: patterns(K.ADVERTISING, _ADVERT),
    K.CONFIDENTIAL: patterns(K.CONFIDENTIAL, _CONFIDENTIAL),
    K.COPYRIGHT: patterns(K.COPYRIGHT, _COPYRIGHT),
    K.PERSONAL_OPINION_AS_COUNCIL: patterns(K.PERSONAL_OPINION_AS_COUNCIL, _OPINION),
    K.CONTRARY_TO_DECISION: patterns(K.CONTRARY_TO_DECISION, _CONTRARY),
    K.UNLAWFUL: patterns(K.UNLAWFUL, _UNLAWFUL),
    K.SECURITY: patterns(K.SECURITY, _SECURITY),
    K.COUNCILLOR_DIRECTION: patterns(K.COUNCILLOR_DIRECTION, _DIRECTION),
    K.UNAPPROVED_CHANNEL: unapproved_channel,
}
