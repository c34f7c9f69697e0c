"""Webhooks: subscriptions (``api``, ``subscriptions``), the fan-out from the services' event feeds
(``fanout``, ``catalogue``) and the signed, retried sending (``sender``, ``signing``, ``targets``),
run by ``worker`` in the gateway process."""
