"""WeChat's servers, as far as our endpoint sees them: signed, and in safe mode encrypted.

Messages are built, signed and encrypted with wechatpy, independently of how our endpoint
reads them, and posted over real HTTP to the aiohttp application.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass

import xmltodict
from aiohttp.test_utils import TestClient
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from bot.web import WECHAT_PATH

TOKEN = "wx-test-token"
APP_ID = "wx1234567890abcdef"
ACCOUNT = "gh_ffs_test"
# 43 characters each, as WeChat issues them.
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OLD_AES_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"

_ids = itertools.count(10_000_000)
_nonces = itertools.count(1)


def sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 over the sorted parts."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


@dataclass
class Answer:
    """What our endpoint answered."""

    status: int
    body: str
    text: str | None = None  # the passive reply's content, decrypted when sealed
    sealed: bool = False


@dataclass
class WeChatServer:
    """Posts messages to our endpoint the way WeChat does."""

    client: TestClient
    aes_key: str | None = AES_KEY
    token: str = TOKEN

    def now(self) -> int:
        return int(time.time())

    def query(self, encrypt: str | None = None, **extra: str) -> dict[str, str]:
        timestamp, nonce = str(self.now()), f"n{next(_nonces)}"
        query = {"timestamp": timestamp, "nonce": nonce, "openid": "x"}
        query["signature"] = sign(self.token, timestamp, nonce)
        if encrypt is not None:
            query["encrypt_type"] = "aes"
            query["msg_signature"] = sign(self.token, timestamp, nonce, encrypt)
        query.update(extra)
        return query

    def request(self, xml: str, *, beside: str | None = None) -> tuple[dict[str, str], str]:
        """A signed query and the body WeChat posts with it: sealed in safe mode.

        `beside`: compatible mode, this message's fields in plaintext beside the sealed one.
        """
        if self.aes_key is None:
            return self.query(), xml
        crypto = WeChatCrypto(self.token, self.aes_key, APP_ID)
        sealed = crypto.encrypt_message(xml, "seal", str(self.now()))
        encrypt = xmltodict.parse(sealed)["xml"]["Encrypt"]
        fields = {"ToUserName": ACCOUNT} if beside is None else xmltodict.parse(beside)["xml"]
        body = xmltodict.unparse({"xml": {**fields, "Encrypt": encrypt}}, full_document=False)
        return self.query(encrypt), body

    async def post_xml(self, xml: str, *, query: dict[str, str] | None = None) -> Answer:
        signed, body = self.request(xml)
        return await self.post(signed if query is None else query, body)

    async def post(self, query: dict[str, str], body: str) -> Answer:
        """Post `body` under `query`, and read the answer (opened when sealed)."""
        response = await self.client.post(WECHAT_PATH, params=query, data=body)
        answer = await response.text()
        if self.aes_key is None or not answer.startswith("<xml>"):
            return Answer(response.status, answer, _content(answer))
        crypto = WeChatCrypto(self.token, self.aes_key, APP_ID)
        fields = xmltodict.parse(answer)["xml"]
        plain = crypto.decrypt_message(
            answer, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"]
        )
        return Answer(response.status, answer, _content(plain), sealed=True)

    async def text(self, openid: str, content: str, msg_id: int | None = None) -> Answer:
        return await self.post_xml(text_xml(openid, content, msg_id or next(_ids), self.now()))

    async def event(self, openid: str, event: str, key: str = "", at: int | None = None) -> Answer:
        return await self.post_xml(event_xml(openid, event, key, at or self.now()))


def text_xml(openid: str, content: str, msg_id: int, at: int) -> str:
    return xmltodict.unparse(
        {
            "xml": {
                "ToUserName": ACCOUNT,
                "FromUserName": openid,
                "CreateTime": at,
                "MsgType": "text",
                "Content": content,
                "MsgId": msg_id,
            }
        },
        full_document=False,
    )


def event_xml(openid: str, event: str, key: str, at: int) -> str:
    body = {
        "ToUserName": ACCOUNT,
        "FromUserName": openid,
        "CreateTime": at,
        "MsgType": "event",
        "Event": event,
    }
    if key:
        body["EventKey"] = key
    return xmltodict.unparse({"xml": body}, full_document=False)


def _content(xml: str) -> str | None:
    if not xml.startswith("<xml>"):
        return None
    return str(xmltodict.parse(xml)["xml"].get("Content") or "")


def option(text: str, label: str) -> str:
    """The number of the numbered option whose label contains `label`."""
    for number, shown in re.findall(r"^(\d+)\. (.+)$", text, flags=re.MULTILINE):
        if label in shown:
            return str(number)
    raise AssertionError(f"no option {label!r} in:\n{text}")
