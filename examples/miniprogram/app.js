// paydesk example mini program: log in with wx.login, pay an order with wx.requestPayment,
// and on iOS pay through the customer-service detour (docs/ios-detour.md).
const api = require("./utils/api.js");

App({
  onLaunch() {
    // Log in early; every API call also logs in again by itself when the session has ended.
    api.ensureLogin().catch((error) => console.warn("login failed:", api.describe(error)));
  },
});
