"""The cashier's pages for shoppers: server-rendered HTML, one stylesheet, one small script.

* :mod:`.roads` — ``/pay/{token}``: JSAPI in WeChat (OAuth first), H5 on a phone, Native QR
  on a computer; :mod:`.outcome` — the result page, status JSON and live events;
* :mod:`.browser` (User-Agent → road), :mod:`.client_ip` (trusted proxies), :mod:`.i18n`
  (Chinese and English), :mod:`.money` (fen → yuan), :mod:`.qr` (SVG), :mod:`.sse`;
* :mod:`.pages` and :mod:`.shell` — rendering, assets and the headers every page carries.

``web`` may import ``domain``, ``protocol`` and ``settings`` (tests/test_layers.py); the routes
that expose it are in ``paydesk.api.routes.cashier``.
"""
