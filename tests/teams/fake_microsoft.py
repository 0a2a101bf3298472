"""A local stand-in for Microsoft's side of Bot Framework authentication, on 127.0.0.1:

* the Bot Framework's OpenID metadata and signing keys (plain HTTP), which the bot reads to check
  the tokens Teams sends it; this stand-in signs such tokens with its own RSA key;
* the Entra ID (Azure AD) login service (HTTPS, as msal insists: a self-signed certificate the test
  makes trusted through ``REQUESTS_CA_BUNDLE``), which issues the bot's own token for its replies.

The bot is pointed at it through the SDK's own configuration names (``[teams.cloud]``, see
``cloud()``). ``hang = True`` makes every endpoint accept the request and never answer, as a
login service does when it is in trouble; ``hits`` counts what was asked for."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import ssl
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://api.botframework.com"  # what the Bot Framework puts in the tokens it sends bots
TENANT = "tenant-castle-cary"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files; the certificate is its own CA."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "login-cert.pem", folder / "login-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class FakeMicrosoft:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "stand-in-key-1"
        # In every address: the SDK caches signing keys by address for the whole process, and a
        # later stand-in on a port an earlier one used must not be taken for it.
        self.nonce = uuid.uuid4().hex[:12]
        self.hang = False
        self.hits: Counter[str] = Counter()
        self.token_lifetime = 3600  # seconds, as Entra ID issues them
        self.issued: list[str] = []
        self.released = asyncio.Event()
        self.cert_path: Path | None = None
        self._runner: web.AppRunner | None = None
        self.http_port = self.https_port = 0

    async def start(self) -> "FakeMicrosoft":
        app = web.Application()
        app.router.add_get(f"/{self.nonce}/openid", self._metadata)
        app.router.add_get(f"/{self.nonce}/keys", self._keys)
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._tenant)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        http = web.TCPSite(self._runner, "127.0.0.1", 0)
        await http.start()
        self.cert_path, key_path = self_signed(self.folder)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_path, key_path)
        https = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=context)
        await https.start()
        self.http_port = http._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.https_port = https._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        self.released.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def cloud(self) -> dict[str, Any]:
        """``[teams.cloud]`` pointing the Bot Framework SDK here (the SDK's own setting names)."""
        return {
            "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL": f"http://127.0.0.1:{self.http_port}/{self.nonce}/openid",
            "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL": f"http://127.0.0.1:{self.http_port}/{self.nonce}/openid",
            "TO_CHANNEL_FROM_BOT_LOGIN_URL": f"https://127.0.0.1:{self.https_port}/{TENANT}",
            "VALIDATE_AUTHORITY": False,  # an authority Microsoft does not know of: no instance discovery
        }

    def channel_token(self, app_id: str, service_url: str, *, lifetime: int = 600) -> str:
        """A token as the Bot Framework sends with each activity, signed with the published key."""
        claims = {"iss": ISSUER, "aud": app_id, "serviceurl": service_url, "nbf": int(time.time()) - 60,
                  "exp": int(time.time()) + lifetime}
        return jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": self.kid})

    # Handlers.

    async def _stall(self, what: str) -> None:
        self.hits[what] += 1
        if self.hang:
            await self.released.wait()  # answer nothing until the test is over

    async def _metadata(self, request: web.Request) -> web.Response:
        await self._stall("openid")
        return web.json_response({"issuer": ISSUER, "jwks_uri": f"http://127.0.0.1:{self.http_port}/{self.nonce}/keys"})

    async def _keys(self, _: web.Request) -> web.Response:
        await self._stall("keys")
        jwk = json.loads(RSAAlgorithm.to_jwk(self.signing_key.public_key()))
        return web.json_response({"keys": [{**jwk, "kid": self.kid, "use": "sig", "endorsements": ["msteams"]}]})

    async def _tenant(self, request: web.Request) -> web.Response:
        await self._stall("tenant")
        base = f"https://127.0.0.1:{self.https_port}/{request.match_info['tenant']}"
        return web.json_response({"issuer": f"{base}/v2.0", "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                                  "token_endpoint": f"{base}/oauth2/v2.0/token"})

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        await self._stall("token")
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        now = int(time.time())
        token = jwt.encode({"aud": "https://api.botframework.com", "iat": now, "exp": now + self.token_lifetime,
                            "n": len(self.issued) + 1}, "stand-in-secret-for-the-bot-token-0123", algorithm="HS256")
        self.issued.append(token)
        return web.json_response({"token_type": "Bearer", "expires_in": self.token_lifetime, "access_token": token})
