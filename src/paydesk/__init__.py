"""paydesk: a self-hosted WeChat Pay service for mini programs and the web.

The layers, bottom up (docs/architecture.md): ``paydesk.protocol`` (pure signing, crypto and
formats), ``paydesk.client`` and ``paydesk.sandbox`` (shells around it), the domain, and the
``api`` / ``workers`` on top.
"""

__version__ = "0.1.0"
