"""The rules of paydesk — orders, payments, users, notifications — written against the database
and the WeChat client, never against HTTP. The API and the workers are thin shells around it."""
