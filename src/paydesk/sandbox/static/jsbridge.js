/* paydesk sandbox: a WeixinJSBridge stand-in for cashier pages outside WeChat.
 *
 *   <script src="{sandbox base}/_sandbox/jsbridge.js"></script>
 *   WeixinJSBridge.invoke('getBrandWCPayRequest', params, function (res) { res.err_msg … });
 *
 * Shows a small pay sheet over the page (amount, Pay / Cancel), then posts the params'
 * prepay_id, paySign, timeStamp, nonceStr and signType to {base}/_sandbox/pay — the sandbox
 * checks paySign exactly as WeChat's client does — and calls back with
 * get_brand_wcpay_request:ok | :cancel | :fail. Fires WeixinJSBridgeReady once loaded.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = script ? script.src.replace(/\/_sandbox\/jsbridge\.js(\?.*)?$/, "") : "";
  var PREFIX = "get_brand_wcpay_request:";

  function post(body) {
    // text/plain keeps this a "simple" cross-origin request: no preflight needed.
    return fetch(base + "/_sandbox/pay", {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: JSON.stringify(body)
    }).then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); });
  }

  function el(tag, style, text) {
    var node = document.createElement(tag);
    node.setAttribute("style", style);
    if (text) { node.textContent = text; }
    return node;
  }

  function sheet(info, onPay, onCancel) {
    var shade = el("div", "position:fixed;inset:0;background:rgba(0,0,0,.5);z-index:2147483647;" +
      "display:flex;align-items:flex-end;justify-content:center;font-family:sans-serif");
    shade.id = "paydesk-sandbox-paysheet";
    var box = el("div", "background:#fff;width:100%;max-width:28rem;border-radius:12px 12px 0 0;" +
      "padding:1.25rem;box-sizing:border-box;text-align:center");
    box.appendChild(el("div", "color:#888;font-size:.8rem", "微信支付沙箱 · WeChat Pay sandbox"));
    box.appendChild(el("div", "font-size:.9rem;margin-top:.5rem", info.description || ""));
    box.appendChild(el("div", "font-size:2rem;font-weight:600;margin:.5rem 0",
      info.amount_yuan ? "¥" + info.amount_yuan : "¥ ?"));
    var pay = el("button", "width:100%;border:0;border-radius:6px;padding:.8rem;font-size:1rem;" +
      "background:#07c160;color:#fff", "立即支付 · Pay");
    pay.id = "paydesk-sandbox-pay";
    var cancel = el("button", "width:100%;border:0;border-radius:6px;padding:.8rem;font-size:1rem;" +
      "margin-top:.5rem;background:#f2f2f2", "取消 · Cancel");
    cancel.id = "paydesk-sandbox-cancel";
    box.appendChild(pay);
    box.appendChild(cancel);
    shade.appendChild(box);
    document.body.appendChild(shade);
    function close() { if (shade.parentNode) { shade.parentNode.removeChild(shade); } }
    pay.onclick = function () { close(); onPay(); };
    cancel.onclick = function () { close(); onCancel(); };
  }

  function getBrandWCPayRequest(params, callback) {
    var done = typeof callback === "function" ? callback : function () {};
    var prepayId = String(params.package || "").replace(/^prepay_id=/, "");
    var fields = {
      prepay_id: prepayId,
      pay_sign: params.paySign,
      timestamp: params.timeStamp,
      nonce_str: params.nonceStr,
      sign_type: params.signType
    };
    function finish(result) {
      post(Object.assign({ result: result }, fields)).then(function (answer) {
        if (result === "CANCEL" && answer.ok) {
          done({ err_msg: PREFIX + "cancel" });
        } else if (answer.ok) {
          done({ err_msg: PREFIX + "ok" });
        } else {
          done({ err_msg: PREFIX + "fail", err_desc: answer.data.message || "" });
        }
      }, function (error) {
        done({ err_msg: PREFIX + "fail", err_desc: String(error) });
      });
    }
    fetch(base + "/_sandbox/prepay-info?prepay_id=" + encodeURIComponent(prepayId))
      .then(function (r) { return r.json(); }, function () { return {}; })
      .then(function (info) {
        sheet(info || {}, function () { finish("SUCCESS"); }, function () { finish("CANCEL"); });
      });
  }

  window.WeixinJSBridge = {
    invoke: function (name, params, callback) {
      if (name === "getBrandWCPayRequest") {
        getBrandWCPayRequest(params || {}, callback);
      } else if (typeof callback === "function") {
        callback({ err_msg: name + ":fail not supported by the paydesk sandbox" });
      }
    },
    on: function () {},
    call: function () {}
  };

  function ready() {
    var event;
    try {
      event = new Event("WeixinJSBridgeReady");
    } catch (e) {
      event = document.createEvent("Event");
      event.initEvent("WeixinJSBridgeReady", true, true);
    }
    document.dispatchEvent(event);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    setTimeout(ready, 0);
  }
})();
