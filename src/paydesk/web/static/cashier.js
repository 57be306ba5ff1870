/* paydesk cashier: the few behaviours the pages need, no framework.
 *
 * Live status (Native QR and result pages): Server-Sent Events from data-events-url, and
 * polling data-status-url when EventSource is missing or keeps failing. Each status sets the
 * body's data-phase; CSS shows the matching panel, so the page turns to "paid" without a reload.
 * JSAPI: WeixinJSBridge.invoke('getBrandWCPayRequest', …) once the bridge is ready; whatever
 * it answers, the result page asks the server — the bridge's "ok" is never taken as payment.
 * H5: hand over to WeChat Pay's h5_url (a navigation from this page, so the Referer is ours).
 */
(function () {
  "use strict";
  var body = document.body;
  var data = body.dataset;
  var POLL_MS = 3000;

  function setPhase(status) {
    if (status && typeof status.phase === "string") {
      body.setAttribute("data-phase", status.phase);
    }
    return Boolean(status && status.final);
  }

  function watch() {
    var stopped = false;
    var source = null;
    var timer = null;

    function stop() {
      stopped = true;
      if (source) { source.close(); source = null; }
      if (timer) { clearTimeout(timer); timer = null; }
    }

    function poll() {
      if (stopped || !data.statusUrl) { return; }
      fetch(data.statusUrl, { cache: "no-store", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (response.status >= 400 && response.status < 500) { stop(); return null; }
          return response.ok ? response.json() : null;
        })
        .then(function (status) { if (setPhase(status)) { stop(); } })
        .catch(function () { /* offline for a moment: try again on the next tick */ })
        .then(function () { if (!stopped) { timer = setTimeout(poll, POLL_MS); } });
    }

    if (!data.eventsUrl || typeof window.EventSource !== "function") {
      poll();
      return;
    }
    var failures = 0;
    source = new EventSource(data.eventsUrl);
    source.addEventListener("status", function (event) {
      failures = 0;
      try {
        if (setPhase(JSON.parse(event.data))) { stop(); }
      } catch (ignored) { /* a garbled event: the next one will do */ }
    });
    source.onerror = function () {
      failures += 1;
      if (failures >= 3 && !stopped) {  // a proxy that buffers or cuts streams: poll instead
        source.close();
        source = null;
        poll();
      }
    };
  }

  function jsapi() {
    var button = document.getElementById("pay-button");
    var holder = document.getElementById("pay-params");
    if (!button || !holder) { return; }
    var params = JSON.parse(holder.textContent);
    var busy = false;

    function outcome(res) {
      var message = (res && res.err_msg) || "";
      var hint = /:ok$/.test(message) ? "ok" : /:cancel$/.test(message) ? "cancel" : "fail";
      window.location.href = data.resultUrl + "?r=" + hint;
    }

    function invoke() {
      if (busy || typeof window.WeixinJSBridge === "undefined") { return; }
      busy = true;
      button.disabled = true;
      window.WeixinJSBridge.invoke("getBrandWCPayRequest", params, outcome);
    }

    button.addEventListener("click", invoke);
    if (typeof window.WeixinJSBridge === "undefined") {
      document.addEventListener("WeixinJSBridgeReady", invoke, false);
    } else {
      invoke();
    }
  }

  if (data.page === "jsapi") {
    jsapi();
  } else if (data.page === "h5" && data.h5Url) {
    window.location.replace(data.h5Url);
  } else if (data.phase === "open" && (data.eventsUrl || data.statusUrl)) {
    watch();
  }
})();
