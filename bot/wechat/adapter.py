"""WeChat's side of the wire: signatures, safe-mode AES, and messages to and from Inbounds.

wechatpy does the parsing, the signature checks and the AES; this module decides what each
message means to us. Nothing here touches the network or the database. wechatpy (with
PyCryptodome, requests and httpx: 25 MiB) is imported when the first WeChat request comes, so
a process that serves only Telegram, or only the command line, never loads it.
"""

from __future__ import annotations

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


class Refused(Exception):
    """The request is not from WeChat (bad signature, stale, or undecryptable)."""


@dataclass(frozen=True, slots=True)
class Keys:
    """What proves a request comes from WeChat: the token and the AES keys (new, old)."""

    token: str
    app_id: str
    aes_keys: tuple[str, ...] = ()

    def cryptos(self) -> list[WeChatCrypto]:
        """One decrypter per configured key, the current key first."""
        from wechatpy.crypto import WeChatCrypto

        return [WeChatCrypto(self.token, key, self.app_id) for key in self.aes_keys]


@dataclass(frozen=True, slots=True)
class Envelope:
    """A verified request's message, and how to seal the answer (the key it came with)."""

    xml: str
    crypto: WeChatCrypto | None
    nonce: str


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


def _check(keys: Keys, query: Mapping[str, str], now: float | None) -> None:
    from wechatpy.exceptions import InvalidSignatureException
    from wechatpy.utils import check_signature

    try:
        check_signature(
            keys.token, query.get("signature", ""), query.get("timestamp", ""), query["nonce"]
        )
    except (InvalidSignatureException, KeyError) as exc:
        raise Refused("bad or missing signature") from exc
    try:
        stamp = int(query["timestamp"])
    except (KeyError, ValueError) as exc:
        raise Refused("bad timestamp") from exc
    if abs((now if now is not None else time.time()) - stamp) > MAX_CLOCK_SKEW:
        raise Refused("stale timestamp")


def verify_server(keys: Keys, query: Mapping[str, str], now: float | None = None) -> str:
    """Answer WeChat's server check: the `echostr` back, once the signature holds.

    Raises:
        Refused: the signature does not hold.
    """
    _check(keys, query, now)
    return query.get("echostr", "")


def open_envelope(
    keys: Keys, query: Mapping[str, str], body: bytes, now: float | None = None
) -> Envelope:
    """Check a POST's signature and, in safe mode, decrypt it with the current or old key.

    Raises:
        Refused: the signature does not hold, or no key decrypts the message.
    """
    from wechatpy.exceptions import InvalidSignatureException

    _check(keys, query, now)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused("not UTF-8") from exc
    if query.get("encrypt_type", "raw") != "aes":
        return Envelope(text, None, query["nonce"])
    cryptos = keys.cryptos()
    if not cryptos:
        raise Refused("an encrypted message, and no WECHAT_AES_KEY")
    for crypto in cryptos:
        try:
            xml = crypto.decrypt_message(
                text, query.get("msg_signature", ""), query["timestamp"], query["nonce"]
            )
        except InvalidSignatureException as exc:
            # The message signature does not depend on the key: no other key helps.
            raise Refused("bad message signature") from exc
        except Exception:
            # Garbage out of the wrong key: during a key change, try the previous one.
            continue
        return Envelope(str(xml), crypto, query["nonce"])
    raise Refused("no key decrypts the message")


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
    if not openid:
        raise ValueError("no sender")
    if isinstance(message, events.BaseEvent):
        # Events have no id; WeChat's retries repeat the sender and the time.
        event_id = f"{openid}:{int(message.create_time.timestamp())}:{message.event}"
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


def passive_reply(envelope: Envelope, message: WeChatMessage, text: str) -> str:
    """The XML answering a message directly, sealed with the key the message came with."""
    from wechatpy.replies import TextReply

    reply = TextReply(source=message.account, target=message.openid, content=text).render()
    if envelope.crypto is None:
        return str(reply)
    return str(envelope.crypto.encrypt_message(reply, envelope.nonce))
