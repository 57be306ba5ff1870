"""The cashier: one signed link per order, and what the browser roads need from the domain.

* :mod:`.links` — issue and open the ``/pay/{token}`` link (purpose-bound, expiring with the
  order; the result page answers a little longer);
* :mod:`.payers` — which app pays on each road (the official account for JSAPI);
* :mod:`.oauth` — official-account OAuth with a ``state`` bound to the browser and used once;
* :mod:`.status` — the order as the shopper sees it, and its live stream; always the
  server's word (WeChat is asked while the order is PAYING), never the browser's;
* :mod:`.hosts` — where WeChat's pages are (the sandbox, in sandbox mode).
"""
