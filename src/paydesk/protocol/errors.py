"""Every error that ``paydesk.protocol`` raises, in one tree.

::

    ProtocolError                    base class; catch this to catch everything below
    ├── SignatureError               a signature did not hold; carries the evidence
    │   ├── SignatureMismatch        the signed bytes and the signature disagree
    │   ├── StaleTimestamp           |now - timestamp| >= 300 s (v3)
    │   ├── UnknownSerial            no key of ours has this Wechatpay-Serial
    │   ├── SignTestProbe            WeChat's deliberate ``WECHATPAY/SIGNTEST/`` probe
    │   └── UnsupportedSignatureType Wechatpay-Signature-Type / sign_type we do not accept
    ├── DecryptError                 AEAD tag, padding, length or appid check failed
    └── MalformedInput               input that cannot be parsed or is out of bounds
        ├── InputTooLarge            over the size cap, refused before parsing
        ├── HostileXML               DTD, entity declaration or processing trick in XML
        └── KeyFormatError           a PEM key, certificate or secret of the wrong shape

Signature errors carry what was checked, so a log line or an anomaly record can show
exactly why a notification was refused::

    >>> err = SignatureMismatch("signature does not match", message=b"1\\nn\\n{}\\n", serial="S1")
    >>> err.serial
    'S1'

All of them subclass ``ValueError``: they always mean "this input is wrong", never "this
process is broken".
"""

from __future__ import annotations

__all__ = [
    "DecryptError",
    "HostileXML",
    "InputTooLarge",
    "KeyFormatError",
    "MalformedInput",
    "ProtocolError",
    "SignTestProbe",
    "SignatureError",
    "SignatureMismatch",
    "StaleTimestamp",
    "UnknownSerial",
    "UnsupportedSignatureType",
]


class ProtocolError(ValueError):
    """Base class of every error raised by ``paydesk.protocol``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SignatureError(ProtocolError):
    """A signature did not hold.

    ``message`` is the exact byte string that was (or would have been) verified,
    ``serial`` the key identifier that was asked for, ``header`` the signature header
    or value as received.
    """

    def __init__(
        self,
        reason: str,
        *,
        message: bytes | None = None,
        serial: str | None = None,
        header: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.message = message
        self.serial = serial
        self.header = header

    def evidence(self) -> dict[str, str | None]:
        """The evidence as printable strings, for logs and anomaly records.

        >>> SignatureMismatch("bad", message=b"a\\n", serial="S").evidence()["serial"]
        'S'
        """
        return {
            "reason": self.reason,
            "message": None if self.message is None else self.message.decode("utf-8", "replace"),
            "serial": self.serial,
            "header": self.header,
        }


class SignatureMismatch(SignatureError):
    """The signed bytes and the signature disagree."""


class StaleTimestamp(SignatureError):
    """The signature's timestamp is 300 s or more away from now."""


class UnknownSerial(SignatureError):
    """No key of ours answers to this serial / public-key id."""


class SignTestProbe(SignatureError):
    """WeChat's deliberate ``WECHATPAY/SIGNTEST/`` probe: must be refused with a 4xx."""


class UnsupportedSignatureType(SignatureError):
    """A signature type or algorithm we do not accept (never chosen by the sender)."""


class DecryptError(ProtocolError):
    """Decryption failed: wrong key, tampered ciphertext, bad padding or appid."""


class MalformedInput(ProtocolError):
    """Input that cannot be parsed. ``field`` names the part that was wrong, if known."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(reason)
        self.field = field


class InputTooLarge(MalformedInput):
    """Input over the size cap; refused before any parsing."""


class HostileXML(MalformedInput):
    """XML with a DTD, entity declaration or other construct we never process."""


class KeyFormatError(MalformedInput):
    """A PEM key, certificate or secret that does not have the expected shape."""
