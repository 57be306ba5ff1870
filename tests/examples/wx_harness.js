// Runs the example mini program's pay page (examples/miniprogram/pages/pay) in Node, with a
// `wx` that does what WeChat would: wx.request goes to a real paydesk over HTTP, wx.login and
// wx.requestPayment to its sandbox (which checks paySign as WeChat's client does).
//
//   node wx_harness.js '{"example": "/…/examples/miniprogram", "paydesk": "http://…",
//                        "sandbox": "http://…/sandbox", "appid": "wx…", "order": "ord_…",
//                        "platform": "android", "pay": true, "payment": "ok" | "cancel"}'
//
// Prints the page's data after each step (load, pay) as one JSON array.
"use strict";
const path = require("path");

const scenario = JSON.parse(process.argv[2]);
const config = require(path.join(scenario.example, "config.js"));
config.paydeskUrl = scenario.paydesk; // the module is shared: utils/api.js sees this too
const storage = new Map();
let page = null;

async function sandbox(pathname, body) {
  const response = await fetch(scenario.sandbox + pathname, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, data: await response.json() };
}

global.wx = {
  request({ url, method = "GET", data, header = {}, success, fail }) {
    const init = { method, headers: { ...header } };
    if (data !== undefined && method !== "GET") {
      init.body = JSON.stringify(data);
      init.headers["content-type"] = "application/json";
    }
    fetch(url, init).then(
      async (response) => {
        const text = await response.text();
        let parsed = text;
        try {
          parsed = JSON.parse(text);
        } catch (error) {
          // WeChat hands non-JSON bodies over as strings
        }
        success({ statusCode: response.status, data: parsed, header: {} });
      },
      (error) => fail({ errMsg: "request:fail " + error.message })
    );
  },
  login({ success, fail }) {
    sandbox("/_sandbox/login-code", { appid: scenario.appid }).then(
      (answer) => success({ code: answer.data.code, errMsg: "login:ok" }),
      (error) => fail({ errMsg: "login:fail " + error.message })
    );
  },
  getAccountInfoSync: () => ({ miniProgram: { appId: scenario.appid } }),
  getSystemInfoSync: () => ({ platform: scenario.platform }),
  getStorageSync: (key) => (storage.has(key) ? storage.get(key) : ""),
  setStorageSync: (key, value) => storage.set(key, value),
  removeStorageSync: (key) => storage.delete(key),
  requestPayment(options) {
    const result = scenario.payment === "cancel" ? "CANCEL" : "SUCCESS";
    sandbox("/_sandbox/pay", {
      prepay_id: options.package.replace(/^prepay_id=/, ""),
      pay_sign: options.paySign,
      timestamp: options.timeStamp,
      nonce_str: options.nonceStr,
      sign_type: options.signType,
      result,
    }).then((answer) => {
      if (answer.status !== 200) {
        options.fail({ errMsg: answer.data.err_msg || "requestPayment:fail" });
      } else if (result === "CANCEL") {
        options.fail({ errMsg: "requestPayment:fail cancel" });
      } else {
        options.success({ errMsg: "requestPayment:ok" });
      }
    });
  },
};
global.Page = (definition) => {
  page = definition;
  page.setData = (patch) => Object.assign(page.data, patch);
};

require(path.join(scenario.example, "pages", "pay", "pay.js"));

(async () => {
  const steps = [];
  const snapshot = (step, result) => steps.push({ step, result, data: { ...page.data } });
  snapshot("load", await page.onLoad({ order: scenario.order }));
  if (scenario.pay) {
    snapshot("pay", await page.pay());
  }
  process.stdout.write(JSON.stringify(steps));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
