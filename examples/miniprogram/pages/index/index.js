// The shop: pick an item; the merchant backend creates the order (and prices it), then the
// pay page pays it. The mini program never decides an amount.
const api = require("../../utils/api.js");
const config = require("../../config.js");

Page({
  data: {
    items: [
      { sku: "gold-monthly", title: "黄金会员 月卡", price: "19.99" },
      { sku: "gold-yearly", title: "黄金会员 年卡", price: "199.00" },
    ],
    busy: false,
    error: "",
  },

  onLoad() {
    return api.ensureLogin().catch((error) => this.setData({ error: api.describe(error) }));
  },

  buy(event) {
    const sku = event.currentTarget.dataset.sku;
    this.setData({ busy: true, error: "" });
    return new Promise((resolve, reject) => {
      wx.request({
        url: config.shopUrl + "/checkout",
        method: "POST",
        data: { sku },
        success: resolve,
        fail: reject,
      });
    })
      .then((res) => {
        if (res.statusCode !== 201) {
          throw new Error((res.data && res.data.error) || "checkout failed");
        }
        return wx.navigateTo({ url: "/pages/pay/pay?order=" + res.data.order_id });
      })
      .catch((error) => this.setData({ error: api.describe(error) }))
      .then(() => this.setData({ busy: false }));
  },
});
