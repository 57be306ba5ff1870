// The mini program's side of paydesk: a session from wx.login, then authorised calls.
//
//   await ensureLogin();                      // POST /api/v1/auth/miniprogram {appid, code}
//   const order = await getOrder(id);         // GET  /api/v1/orders/{id}[?sync=true]
//   const start = await startPayment(id);     // POST /api/v1/orders/{id}/pay {channel}
//   const outcome = await requestPayment(start.params);   // "ok" | "cancel" (else throws)
//
// The amount is never sent from here: paydesk takes it from the order the merchant created.
const config = require("../config.js");

const TOKEN_KEY = "paydesk_token";

class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || "request failed");
    this.status = status;
    this.code = code;
  }
}

function describe(error) {
  if (error instanceof ApiError) {
    return error.message;
  }
  return (error && (error.errMsg || error.message)) || String(error);
}

function call(url, { method = "GET", data, token } = {}) {
  return new Promise((resolve, reject) => {
    wx.request({
      url,
      method,
      data,
      header: token ? { Authorization: "Bearer " + token } : {},
      success: (res) => resolve(res),
      fail: (err) => reject(err),
    });
  });
}

function unwrap(res) {
  if (res.statusCode >= 200 && res.statusCode < 300) {
    return res.data;
  }
  const error = (res.data && res.data.error) || {};
  throw new ApiError(res.statusCode, error.code, error.message);
}

function wxLogin() {
  return new Promise((resolve, reject) => {
    wx.login({ success: (res) => resolve(res.code), fail: reject });
  });
}

async function login() {
  const appid = wx.getAccountInfoSync().miniProgram.appId;
  const code = await wxLogin();
  const body = unwrap(
    await call(config.paydeskUrl + "/api/v1/auth/miniprogram", {
      method: "POST",
      data: { appid, code },
    })
  );
  wx.setStorageSync(TOKEN_KEY, body.token);
  return body.token;
}

async function ensureLogin() {
  return wx.getStorageSync(TOKEN_KEY) || login();
}

// A paydesk call as the logged-in user; a session that ended (401) logs in once more.
async function authorised(path, options = {}) {
  let token = await ensureLogin();
  let res = await call(config.paydeskUrl + path, { ...options, token });
  if (res.statusCode === 401) {
    wx.removeStorageSync(TOKEN_KEY);
    token = await login();
    res = await call(config.paydeskUrl + path, { ...options, token });
  }
  return unwrap(res);
}

function getOrder(orderId, { sync = false } = {}) {
  const query = sync ? "?sync=true" : "";
  return authorised("/api/v1/orders/" + encodeURIComponent(orderId) + query);
}

function startPayment(orderId, channel = "miniprogram") {
  return authorised("/api/v1/orders/" + encodeURIComponent(orderId) + "/pay", {
    method: "POST",
    data: { channel },
  });
}

// wx.requestPayment as a promise: "ok", or "cancel" when the user closed the sheet. Neither is
// proof of anything: ask the server (getOrder with sync) before showing "paid".
function requestPayment(params) {
  return new Promise((resolve, reject) => {
    wx.requestPayment({
      timeStamp: params.timeStamp,
      nonceStr: params.nonceStr,
      package: params.package,
      signType: params.signType,
      paySign: params.paySign,
      success: () => resolve("ok"),
      fail: (err) => {
        if (err && err.errMsg === "requestPayment:fail cancel") {
          resolve("cancel");
        } else {
          reject(err);
        }
      },
    });
  });
}

// Integer fen as a yuan string, without floating point: 1999 → "19.99".
function yuan(fen) {
  return Math.floor(fen / 100) + "." + String(fen % 100).padStart(2, "0");
}

module.exports = {
  ApiError,
  describe,
  ensureLogin,
  getOrder,
  login,
  requestPayment,
  startPayment,
  yuan,
};
