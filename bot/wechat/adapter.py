"""WeChat's side of the wire: signatures, safe-mode AES, and messages to and from Inbounds.

wechatpy does the parsing and the AES; this module checks the signatures (in constant time)
and decides what each message means to us. Nothing here touches the network or the
database. wechatpy (with PyCryptodome, requests and httpx: 25 MiB) is imported when the first
WeChat request comes, so a process that serves only Telegram, or only the command line, never
loads it.

What a signature proves, and what it does not:

- The URL's `signature` covers only the token, `timestamp` and `nonce`: never the body. So
  with an AES key configured only safe mode is read (`encrypt_type=aes` and a
  `msg_signature`, which covers the sealed message too): a plaintext request, which anyone
  holding one signed URL could write, is refused. WeChat's compatible mode (the message in
  plaintext beside the sealed copy) is read only when allowed (`Keys.compatible`), and then
  only the sealed copy counts.
- A signed URL is accepted only within `MAX_CLOCK_SKEW` (600 seconds) of our clock, and its
  (timestamp, nonce) pair is meant for one body: `SignedPair` carries the pair and the body's
  digest, for the channel to bind them in the database (a pair seen with another body is
  refused). Without an AES key the body is not signed at all; binding is then what stops a
  signed URL from carrying a second message.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ffs_bot.messages import Inbound
from ffs_bot.model import Channel

if TYPE_CHECKING:
    from wechatpy.crypto import WeChatCrypto

__all__ = [
    "CHANNEL",
    "Envelope",
    "Keys",
    "Refused",
    "SignedPair",
    "WeChatMessage",
    "convert",
    "open_envelope",
    "passive_reply",
    "verify_server",
]

CHANNEL = Channel.WECHAT.value
# A signed request older or newer than this is refused: a captured one cannot be replayed
# later. WeChat's own retries come within seconds.
MAX_CLOCK_SKEW = 600
QR_SCENE_PREFIX = "qrscene_"
# The nonce is stored with the pair (signed_request.nonce, 64 wide); WeChat's are digits.
NONCE = re.compile(r"[!-~]{1,64}")
# A safe-mode body holds only the addressee and the sealed message (AppId: a third-party
# platform's); anything more is compatible mode's plaintext copy.
SEALED_FIELDS = frozenset({"ToUserName", "AppId", "Encrypt"})
# An openid as WeChat makes them (28 characters), with room to spare.
OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# processed_inbound.external_id's width: a longer event id keeps its head and a hash.
MAX_EVENT_ID = 128


class Refused(Exception):
    """The request is not from WeChat (bad signature, stale, or undecryptable)."""


@dataclass(frozen=True, slots=True)
class Keys:
    """What proves a request comes from WeChat: the token and the AES keys (new, old)."""

    token: str
    app_id: str
    aes_keys: tuple[str, ...] = ()
    # Compatible mode: read the sealed copy of a message that also comes in plaintext.
    compatible: bool = False

    def __post_init__(self) -> None:
        # Without a token anyone can compute a valid signature.
        if not self.token:
            raise ValueError("a WeChat token is needed")

    def cryptos(self) -> list[WeChatCrypto]:
        """One decrypter per configured key, the current key first."""
        from wechatpy.crypto import WeChatCrypto

        return [WeChatCrypto(self.token, key, self.app_id) for key in self.aes_keys]


@dataclass(frozen=True, slots=True)
class SignedPair:
    """A signed request's (timestamp, nonce) and the digest of what it carried."""

    stamp: int
    nonce: str
    digest: str


@dataclass(frozen=True, slots=True)
class Envelope:
    """A verified request's message, how to seal the answer (the key it came with), its pair."""

    xml: str
    crypto: WeChatCrypto | None
    signed: SignedPair


@dataclass(frozen=True, slots=True)
class WeChatMessage:
    """What a WeChat message means: something for the conversation engine, or a state change.

    `inbound` is None for events that only change whether we may write to the person
    (`reachable`) or that need no answer at all.
    """

    openid: str
    account: str
    event_id: str
    inbound: Inbound | None = None
    reachable: bool | None = None
    source: Any = None


def _signature(*parts: str) -> str:
    from wechatpy.utils import WeChatSigner

    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


def _same(expected: str, given: str) -> bool:
    # wechatpy compares with `!=`, which tells a prober how much of a guess was right. What
    # cannot be encoded becomes "?", which no signature holds: refused, not an error.
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def _check(keys: Keys, query: Mapping[str, str], now: float | None) -> int:
    """The request's timestamp, once its URL signature holds and it is recent."""
    timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
    if not re.fullmatch(r"[0-9]{1,12}", timestamp) or not NONCE.fullmatch(nonce):
        raise Refused("bad or missing timestamp or nonce")
    given = query.get("signature", "")
    if not _same(_signature(keys.token, timestamp, nonce), given):
        raise Refused("bad or missing signature")
    stamp = int(timestamp)
    if abs((now if now is not None else time.time()) - stamp) > MAX_CLOCK_SKEW:
        raise Refused("stale timestamp")
    return stamp


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify_server(
    keys: Keys, query: Mapping[str, str], now: float | None = None
) -> tuple[str, SignedPair]:
    """Answer WeChat's server check: the `echostr` back, and the pair to bind to it.

    The check carries no body, so the pair is bound to `echostr`, marked as such: a signed
    check URL cannot then carry a message either.

    Raises:
        Refused: the signature does not hold.
    """
    stamp = _check(keys, query, now)
    echo = query.get("echostr", "")
    return echo, SignedPair(stamp, query["nonce"], _digest(b"echostr\0" + echo.encode()))


def open_envelope(
    keys: Keys, query: Mapping[str, str], body: bytes, now: float | None = None
) -> Envelope:
    """Check a POST's signatures and, in safe mode, decrypt it with the current or old key.

    Raises:
        Refused: a signature does not hold, the request is plaintext while an AES key is
            configured, or no key decrypts the message.
    """
    stamp = _check(keys, query, now)
    signed = SignedPair(stamp, query["nonce"], _digest(body))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused("not UTF-8") from exc
    cryptos = keys.cryptos()
    if query.get("encrypt_type", "raw") != "aes":
        if cryptos:
            # The URL's signature does not cover the body: anyone could have written it.
            raise Refused("plaintext, and WECHAT_AES_KEY is set: safe mode only")
        return Envelope(text, None, signed)
    if not cryptos:
        raise Refused("an encrypted message, and no WECHAT_AES_KEY")
    encrypt = _sealed(text, compatible=keys.compatible)
    expected = _signature(keys.token, query["timestamp"], query["nonce"], encrypt)
    if not _same(expected, query.get("msg_signature", "")):
        # The message signature does not depend on the key: no key helps.
        raise Refused("bad message signature")
    for crypto in cryptos:
        try:
            xml = crypto.decrypt_message(
                {"Encrypt": encrypt}, expected, query["timestamp"], query["nonce"]
            )
        except Exception:
            # Garbage out of the wrong key: during a key change, try the previous one.
            continue
        return Envelope(str(xml), crypto, signed)
    raise Refused("no key decrypts the message")


def _sealed(text: str, *, compatible: bool) -> str:
    """The sealed message in a safe-mode (or, if allowed, compatible-mode) body."""
    from xml.etree import ElementTree

    # WeChat never sends a DTD; refusing one leaves entities no way in.
    if "<!DOCTYPE" in text.upper():
        raise Refused("a DTD in the body")
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise Refused("unreadable sealed body") from exc
    names = [child.tag for child in root]
    sealed = [child.text for child in root if child.tag == "Encrypt"]
    if root.tag != "xml" or len(sealed) != 1 or not sealed[0]:
        raise Refused("no sealed message")
    if not compatible and set(names) - SEALED_FIELDS:
        raise Refused("a plaintext copy beside the sealed message: compatible mode is off")
    return sealed[0].strip()


def _start_argument(scene: str) -> str:
    """The start argument a QR code's scene carries (`f-SZ01`, `c-CODE`), or nothing."""
    scene = scene.removeprefix(QR_SCENE_PREFIX).strip()
    return scene if scene[:2].lower() in ("f-", "c-") else ""


def convert(xml: str) -> WeChatMessage:
    """Read a decrypted message.

    Raises:
        ValueError: the XML is malformed, or lacks the sender or the time.
    """
    from wechatpy import parse_message

    try:
        return _convert(parse_message(xml))
    except ValueError:
        raise
    except Exception as exc:
        # xmltodict's parse errors, a missing MsgType, a CreateTime that is not a number.
        raise ValueError("malformed message") from exc


def _convert(message: Any) -> WeChatMessage:
    from wechatpy import events, messages

    openid = str(message.source or "")
    account = str(message.target or "")
    if not OPENID.fullmatch(openid):
        # WeChat's openids are 28 such characters; no column of ours holds just anything.
        raise ValueError("no sender, or not an openid")
    # The time is read (and so checked) now: an event's id is made of it.
    message.create_time.timestamp()
    if not isinstance(message, events.BaseEvent) and not 0 <= int(message.id or 0) < 2**64:
        raise ValueError("a message id WeChat does not make")
    if isinstance(message, events.BaseEvent):
        event_id = _event_id(openid, message)
        start = None
        if isinstance(message, events.UnsubscribeEvent):
            return WeChatMessage(openid, account, event_id, reachable=False, source=message)
        if isinstance(message, events.SubscribeScanEvent | events.ScanEvent):
            start = f"/start {_start_argument(str(message.scene_id or ''))}".strip()
        elif isinstance(message, events.SubscribeEvent):
            start = "/start"
        if start is not None:
            inbound = Inbound(CHANNEL, openid, text=start, message_id=event_id)
        elif isinstance(message, events.ClickEvent) and message.key:
            inbound = Inbound(CHANNEL, openid, payload=str(message.key), message_id=event_id)
        else:
            # Menu links, location reports, template receipts: nothing to answer.
            return WeChatMessage(openid, account, event_id, source=message)
        return WeChatMessage(openid, account, event_id, inbound=inbound, source=message)
    message_id = str(message.id or f"{openid}:{int(message.create_time.timestamp())}")
    # Pictures, voice and the like reach the engine without text: it asks for text.
    text = str(message.content or "") if isinstance(message, messages.TextMessage) else None
    inbound = Inbound(CHANNEL, openid, text=text, message_id=message_id)
    return WeChatMessage(openid, account, message_id, inbound=inbound, source=message)


def _event_id(openid: str, event: Any) -> str:
    """An event's id: its sender, time, kind and what was pressed or scanned.

    Events have no id of their own; WeChat's retries repeat all of these, while two presses
    of different buttons (or scans of different codes) in one second differ in the key.
    """
    from wechatpy import events

    detail: tuple[str, ...] = ()
    if isinstance(event, events.SubscribeScanEvent | events.ScanEvent):
        detail = (str(event.scene_id or ""), str(event.ticket or ""))
    elif isinstance(event, events.ClickEvent | events.SubscribeEvent):
        detail = (str(event.key or ""),)
    parts = [openid, str(int(event.create_time.timestamp())), str(event.event)]
    full = ":".join([*parts, *detail] if any(detail) else parts)
    if len(full) <= MAX_EVENT_ID:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()
    return f"{full[: MAX_EVENT_ID - len(digest) - 1]}#{digest}"


def passive_reply(envelope: Envelope, message: WeChatMessage, text: str) -> str:
    """The XML answering a message directly, sealed with the key the message came with."""
    from wechatpy.replies import TextReply

    reply = TextReply(source=message.account, target=message.openid, content=text).render()
    if envelope.crypto is None:
        return str(reply)
    return str(envelope.crypto.encrypt_message(reply, envelope.signed.nonce))
