"""What a reply to a digest means: automatic mail to ignore, a request to leave, or feedback.

Pure functions over already-parsed mail, so the rules are tested without HTTP. The rules are
deliberately conservative: anything that is not a clear request to leave is feedback, which the
admin sees (a wrong unsubscribe is silent). "Please stop sending me these" leaves, "remove the
robotics papers" is feedback. "Unsubscribe" (in several languages) leaves in the subject or the
first lines of the reply unless a negation or hedge stands with it in its clause ("I do not want
to unsubscribe", "if this goes on I will unsubscribe"). Automatic mail is told by its headers
and by the part of the subject the sender wrote, never by our own subject's paper title.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.utils import parseaddr

# The first non-empty lines of the reply (above the quote) that may carry the request.
FIRST_LINES = 3

_AUTOMATIC_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}

_OUT_OF_OFFICE = re.compile(
    r"out of (the )?office|\booo\b|automatic reply|auto(matic)?[- ]?(reply|response|answer)|autoreply"
    r"|away from (the |my )?(office|desk)|\bon (vacation|holiday|leave)\b|currently away"
    r"|abwesenheit|automatische antwort|nicht im b[üu]ro"
    r"|r[ée]ponse automatique|absence du bureau|absent(e)? du bureau"
    r"|respuesta autom[áa]tica|fuera de (la )?oficina"
    r"|risposta automatica|fuori (sede|ufficio)"
    r"|automatisch antwoord|afwezig(heid)?"
    r"|resposta autom[áa]tica|fora do escrit[óo]rio"
    r"|autosvar|fr[åa]nvaro|frav[æe]r|automaattinen vastaus"
    r"|automatyczna odpowied[źz]|poza biurem"
    r"|автоответ|автоматический ответ|нет в офисе"
    r"|自动回复|自動回覆|自動回信|自動返信|不在|부재|자동\s*응답"
    r"|delivery status notification|undeliver|delivery (has )?failed|mail delivery"
    r"|returned mail|failure notice",
    re.IGNORECASE,
)

_AUTOMATIC_SENDERS = {"mailer-daemon", "postmaster", "noreply", "no-reply", "do-not-reply", "donotreply"}

# Words that mean "take me off" wherever they stand (stems: unsubscribed, unsubscribing, ...).
_LEAVE_ANYWHERE = re.compile(
    r"\bunsub\w*|\bopt[- ]?out\b"
    r"|\babbestell\w*|\babmeld\w*|\baustragen\b"
    r"|\bd[ée]sabonn\w*|\bd[ée]sinscri\w*"
    r"|\bdar(me)? de baja\b|\bcancelar (la |mi )?suscripci[óo]n\b|\bdesuscrib\w*"
    r"|\bdisiscri\w*|\bcancella(mi|re)? (la |la mia )?iscrizione\b"
    r"|\buitschrijv\w*|\bafmelden\b"
    r"|\bdescadastr\w*|\bcancelar (a |minha )?inscri[çc][ãa]o\b"
    r"|\bavregistrer\w*|\bavsluta prenumeration\w*|\bavmeld\w*|\bafmeld\w*|\bavbestill\w*|\bafbestil\w*"
    r"|\bwypisz\w*|\bwypisa[ćc]\b"
    r"|\bотпис\w*"
    r"|退订|退訂|取消订阅|取消訂閱|配信停止|購読解除|登録解除|수신\s*거부|구독\s*취소",
    re.IGNORECASE,
)
# Words that make a leave word something other than a request: negations ("I do not want to
# unsubscribe", "bitte nicht abmelden") and hedges ("if this goes on I will unsubscribe"). One of them
# before the leave word in the same clause makes the clause feedback: a wrong "feedback" reaches the
# admin, who can act; a wrong unsubscribe is silent.
_DOUBT_BEFORE = re.compile(
    r"\b(not|no|never|nor|neither|without|hardly|cannot|dont|doesnt|didnt|wont|wouldnt|shouldnt"
    r"|cant|isnt|if|unless|whether|otherwise|else|may|might|maybe|perhaps|probably|consider\w*"
    r"|thinking|wonder\w*|tempted|almost|nearly"
    r"|nicht|kein\w*|nie|niemals|falls|wenn|vielleicht|ne|pas|jamais|si|peut-être|nunca|tal vez"
    r"|quizás|non|mai|forse|niet|geen|nooit|misschien|als|não|talvez|inte|ikke|ikkje|aldri|aldrig"
    r"|om|hvis|nei|не|ни|нет|если|может)\b|n['’]t\b",
    re.IGNORECASE,
)
# "Unsubscribing is not needed": a negation right after the leave word.
_DOUBT_AFTER = re.compile(r"\w*\s+(?:(?:is|was|are|would|will)\s*(?:be\s+)?)?(?:n['’]?t|not|never)\b",
                          re.IGNORECASE)
# Chinese, Japanese and Korean negate around the verb (不要退订, 配信停止しないで, 수신 거부 하지 마세요).
_DOUBT_CJK = re.compile(r"不|别|別|勿|しない|ないで|しなくて|하지\s*마|않|말아|마세요")
# Where one clause ends and the next starts: "Not interested anymore, unsubscribe" leaves.
_CLAUSE_END = re.compile(
    r"[.,;:!?¿¡。，、；：！？()]|\s[-–—]+\s|\s(?:but|however|aber|mais|pero|ma|maar|mas|men|ale|но)\s",
    re.IGNORECASE,
)

# Words that mean "take me off" only when (nearly) nothing else is said: "STOP", "remove me".
_LEAVE_ALONE = {"stop", "stopp", "stoppen", "remove", "cancel", "quit", "end", "halt",
                "arrêter", "arrête", "arrêtez", "basta", "parar", "pare", "leave"}
_FILLER = {
    "please", "pls", "plz", "kindly", "thanks", "thank", "you", "thx", "ty", "now", "asap",
    "immediately", "me", "my", "it", "this", "that", "these", "those", "all", "sending", "send",
    "emails", "email", "e", "mail", "mails", "messages", "message", "from", "the", "a", "list",
    "mailing", "newsletter", "digest", "digests", "subscription", "address", "us", "just", "hi",
    "hello", "dear", "to", "of", "off", "and", "ok", "arxiv", "bitte", "danke", "merci", "svp",
    "por", "favor", "grazie", "i", "want", "would", "like", "wish", "yes",
}

_REPLY_PREFIX = re.compile(
    r"^\s*((re|aw|sv|vs|antw|antwort|wg|fw|fwd|tr|rv|odp|ynt|r|回复|答复|回覆|转发)\s*(\[\d+\])?\s*[:：]\s*)+",
    re.IGNORECASE,
)
# Our own subjects start like this; a paper title after it must not count as the reader's words.
_OUR_SUBJECT = re.compile(r"arxiv digest", re.IGNORECASE)

_LONG_LINE = 1000
# Where the quoted digest (or a signature) starts in a reply.
_QUOTE_START = re.compile(
    r"^\s*>"
    r"|^.*\b(wrote|schrieb|a écrit|escribió|ha scritto|schreef|escreveu|skrev|napisał|написал"
    r"|kirjoitti)\s*:\s*$"
    r"|^.*\b(schrieb|schreef|skrev|napisał|escreveu|wrote)\b.*:\s*$"
    r"|^\s*-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|mensaje original"
    r"|messaggio originale|oorspronkelijk bericht|mensagem original)"
    r"|^\s*_{10,}\s*$"
    r"|^\s*(from|von|de|da|van|från|fra|od|от|发件人|寄件者)\s*[:：]\s"
    r"|^-- ?$"
    r"|^\s*sent from my "
    r"|^\s*#? ?personalized daily arxiv papers",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Reply:
    """An inbound mail as far as the rules need it. `envelope_from` None = unknown (no envelope)."""

    recipients: tuple[str, ...]
    envelope_from: str | None
    headers: Message
    subject: str
    text: str
    message_id: str | None
    from_header: str


def automatic_reason(reply: Reply) -> str | None:
    """Why this mail was sent by a machine (so must change nothing), or None for a person's mail."""
    headers = reply.headers
    auto_submitted = str(headers.get("Auto-Submitted", "") or "").split(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    precedence = str(headers.get("Precedence", "") or "").strip().lower()
    if precedence in _AUTOMATIC_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if headers.get(name) is not None:
            return name
    if headers.get_content_type() == "multipart/report":
        return "multipart/report"
    if reply.envelope_from is not None and reply.envelope_from.strip() in ("", "<>"):
        return "empty envelope sender"
    if reply.envelope_from is None and str(headers.get("Return-Path", "") or "").strip() == "<>":
        return "empty Return-Path"
    sender = (reply.envelope_from or parseaddr(reply.from_header)[1]).lower()
    if sender.split("@")[0] in _AUTOMATIC_SENDERS:
        return "automatic sender"
    # Only the words before our own subject: that carries the top paper's title, and a title
    # such as "On Leave-One-Out Conformal Prediction" says nothing about the mail.
    if _OUT_OF_OFFICE.search(reader_subject(reply.subject)):
        return "out-of-office subject"
    return None


def above_quote(text: str) -> str:
    """The reader's own words: the reply text above the quoted digest or the signature."""
    kept = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        # A quote's first line is short; the pattern backtracks badly on a long one, so a long
        # line is probed by its start (the " …" keeps a cut-off "wrote:" from ending it).
        if _QUOTE_START.search(line if len(line) <= _LONG_LINE else f"{line[:_LONG_LINE]} …"):
            break
        kept.append(line)
    return "\n".join(kept).strip()


def _words(line: str) -> list[str]:
    return re.findall(r"[^\W\d_]+", line.lower())


def _clearly_leaves(clause: str) -> bool:
    """A leave word with no negation or hedge around it in its clause."""
    for match in _LEAVE_ANYWHERE.finditer(clause):
        before, after = clause[: match.start()], clause[match.end():]
        if not (_DOUBT_BEFORE.search(before) or _DOUBT_AFTER.match(after) or _DOUBT_CJK.search(clause)):
            return True
    return False


def _says_leave(line: str) -> bool:
    if any(_clearly_leaves(clause) for clause in _CLAUSE_END.split(line)):
        return True
    words = [word for word in _words(line) if word not in _FILLER]
    return len(words) == 1 and words[0] in _LEAVE_ALONE


def reader_subject(subject: str) -> str:
    """The part of a subject the reader typed: reply prefixes and our own subject removed."""
    stripped = _REPLY_PREFIX.sub("", subject)
    match = _OUR_SUBJECT.search(stripped)
    return (stripped[: match.start()] if match else stripped).strip()


def asks_to_leave(subject: str, text: str) -> bool:
    """Whether the subject or the first lines above the quote ask to unsubscribe."""
    own_subject = reader_subject(subject)
    if own_subject and _says_leave(own_subject):
        return True
    lines = [line.strip() for line in above_quote(text).split("\n") if line.strip()]
    return any(_says_leave(line) for line in lines[:FIRST_LINES])
