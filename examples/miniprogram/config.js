// Where the example talks to. In WeChat's developer tools, untick "verify domain names" to
// use these local addresses; a published mini program needs https domains you registered.
module.exports = {
  // paydesk (`paydesk serve`): login, paying, order status.
  paydeskUrl: "http://127.0.0.1:8000",
  // The merchant backend (examples/merchant_backend.py): what to buy, at which price.
  shopUrl: "http://127.0.0.1:8080",
};
