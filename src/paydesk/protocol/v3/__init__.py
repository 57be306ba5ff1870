"""WeChat Pay APIv3, pure: signatures, verification, AES-GCM, RSA-OAEP, payloads, paths.

One small module per concern, imported by name (nothing is re-exported here):

- :mod:`.signing` — the merchant's ``Authorization`` header (build, parse, verify);
- :mod:`.verify` — ``Wechatpay-*`` signed responses and notifications, :class:`.verify.KeySet`;
- :mod:`.aead` — AEAD_AES_256_GCM with the APIv3 key;
- :mod:`.oaep` — RSA-OAEP for sensitive fields;
- :mod:`.certificates` — ``/v3/certificates`` bodies;
- :mod:`.notify` — open (merchant) and seal (sandbox) notifications;
- :mod:`.pay_params` — the client-side pay parameters and their ``paySign``;
- :mod:`.models` — pydantic payload models;
- :mod:`.endpoints` — hosts and paths.

>>> from paydesk.protocol.v3 import signing
>>> signing.SCHEME
'WECHATPAY2-SHA256-RSA2048'
"""
