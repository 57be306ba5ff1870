"""The notification envelope WeChat POSTs to ``notify_url`` (PROTOCOL.md §1.8).

Only ``resource`` is encrypted; the rest is plain JSON, signed as a whole.

>>> EncryptedResource(original_type="transaction", algorithm="AEAD_AES_256_GCM",
...     ciphertext="", nonce="n").associated_data
''
"""

from __future__ import annotations

from typing import Literal

from paydesk.protocol.v3.models.base import ResponseModel

__all__ = ["EncryptedResource", "NotificationEnvelope"]


class EncryptedResource(ResponseModel):
    """``resource``: AEAD_AES_256_GCM ciphertext of the business object.

    ``associated_data`` may be absent or empty (the refund example shows ``""``).
    """

    original_type: str
    algorithm: Literal["AEAD_AES_256_GCM"]
    ciphertext: str
    associated_data: str = ""
    nonce: str


class NotificationEnvelope(ResponseModel):
    """The outer notification object: ``event_type`` says what ``resource`` holds."""

    id: str
    create_time: str
    resource_type: Literal["encrypt-resource"]
    event_type: str
    summary: str = ""
    resource: EncryptedResource
