// Pay one order: pages/pay/pay?order=ord_…
//
// Android and the like: wx.requestPayment; a cancel is not a failure (the user may pay again);
// success only makes us ask the server (GET …?sync=true), which decides.
//
// iOS: Apple does not let virtual goods be paid with WeChat Pay inside a mini program. The
// page offers customer service instead, sending a card whose path names this order; paydesk
// answers with a link that opens WeChat's browser, where the user pays (docs/ios-detour.md).
const api = require("../../utils/api.js");

// Order states (paydesk) → what the page shows.
const PHASES = {
  CREATED: "open",
  PAYING: "open",
  PAID: "paid",
  PARTIALLY_REFUNDED: "paid",
  REFUNDED: "refunded",
  CLOSED: "closed",
};

Page({
  data: {
    orderId: "",
    order: null,
    amountText: "",
    phase: "loading", // loading | open | paying | checking | paid | refunded | closed | error
    message: "",
    ios: false,
    cardTitle: "",
  },

  onLoad(query) {
    const orderId = query.order || "";
    const ios = wx.getSystemInfoSync().platform === "ios";
    this.setData({ orderId, ios });
    return this.refresh(false);
  },

  // The server's word on the order; sync=true makes paydesk ask WeChat while it is PAYING.
  refresh(sync) {
    return api
      .getOrder(this.data.orderId, { sync })
      .then((order) => {
        const phase = PHASES[order.state] || "error";
        this.setData({
          order,
          phase,
          amountText: api.yuan(order.amount),
          cardTitle: order.description + " ¥" + api.yuan(order.amount),
        });
        return phase;
      })
      .catch((error) => {
        this.setData({ phase: "error", message: api.describe(error) });
        return "error";
      });
  },

  pay() {
    this.setData({ phase: "paying", message: "" });
    return api
      .startPayment(this.data.orderId)
      .then((start) => api.requestPayment(start.params))
      .then((outcome) => {
        if (outcome === "cancel") {
          this.setData({ phase: "open", message: "已取消支付，可以再次支付。" });
          return "cancel";
        }
        this.setData({ phase: "checking", message: "正在确认支付结果…" });
        return this.refresh(true).then((phase) => {
          if (phase !== "paid") {
            this.setData({ phase: "checking", message: "支付结果确认中，请稍后刷新。" });
          } else {
            this.setData({ message: "" });
          }
          return phase;
        });
      })
      .catch((error) => {
        this.setData({ phase: "open", message: "支付未完成：" + api.describe(error) });
        return "failed";
      });
  },

  check() {
    return this.refresh(true);
  },
});
